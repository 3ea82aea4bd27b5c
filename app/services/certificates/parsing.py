"""Loading one client certificate from untrusted bytes: `load_certificate` takes a single PEM
``CERTIFICATE`` block or exact DER, within `MAX_INPUT_BYTES`, decodes every part of it up front
and turns every failure (a CSR or key pasted by mistake, a chain, junk, a non-positive serial, an
unsupported algorithm) into a `CertificateError` with a precise code.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from app.services.certificates.der import _has_non_positive_serial
from app.services.certificates.errors import (
    DECODE_ERRORS,
    CertificateError,
    ErrorCode,
    _malformed,
)
from app.services.certificates.pem import _BEGIN, _CERTIFICATE_LABEL, pem_blocks

__all__ = ["MAX_INPUT_BYTES", "load_certificate"]

#: Largest certificate, CSR, bundle or CRL input accepted, in bytes (threat model A.6).
MAX_INPUT_BYTES = 64 * 1024


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse exactly one X.509 certificate: a single PEM ``CERTIFICATE`` block or exact DER.

    The certificate is fully decoded here (names, extensions, key, signature algorithm), so code
    that receives it does not meet a lazily raised parse error later.

    Raises:
        CertificateError: never any other exception. Codes: ``too_large`` (over
            `MAX_INPUT_BYTES`), ``not_a_certificate`` (empty input, a CSR, a key or another PEM
            type), ``multiple_certificates`` (a chain or several blocks), ``malformed`` (junk,
            trailing bytes, broken DER or extensions, a non-positive serial),
            ``unsupported_algorithm``.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CertificateError(ErrorCode.NOT_A_CERTIFICATE, "No certificate was given.")
    data = bytes(data)
    if len(data) > MAX_INPUT_BYTES:
        raise CertificateError(ErrorCode.TOO_LARGE, "The certificate is too large.")
    text = data.strip()
    if not text:
        raise CertificateError(ErrorCode.NOT_A_CERTIFICATE, "No certificate was given.")
    if text.startswith(_BEGIN):
        der = _single_certificate_block(text)
    elif data.startswith(b"\x30"):
        der = data  # DER is taken byte for byte: trailing bytes, even whitespace, are refused.
    else:
        raise _malformed("This is neither a PEM nor a DER certificate.")
    return _parse_der_certificate(der)


def _single_certificate_block(text: bytes) -> bytes:
    blocks = pem_blocks(text)
    if len(blocks) > 1:
        raise CertificateError(
            ErrorCode.MULTIPLE_CERTIFICATES,
            f"Expected one certificate but found {len(blocks)} PEM blocks.",
        )
    label, der = blocks[0]
    if label != _CERTIFICATE_LABEL:
        raise CertificateError(ErrorCode.NOT_A_CERTIFICATE, _not_a_certificate_message(label))
    return der


def _not_a_certificate_message(label: str) -> str:
    if "PRIVATE KEY" in label:
        return "This is a private key, not a certificate. Never share your private key."
    if "REQUEST" in label:
        return "This is a certificate signing request, not a certificate."
    return "This is not a certificate."


@lru_cache(maxsize=512)
def _parse_der_certificate(der: bytes) -> x509.Certificate:
    """The certificate in ``der``, fully decoded (kept for the certificates seen most
    recently: a sign-in and the session checks after it show the same one, and the result
    is a function of the bytes alone and immutable; a refusal is raised, never kept)."""
    # RFC 5280 §4.1.2.2: the serial is a positive integer. cryptography still loads (and warns
    # about) other serials, so they never reach it.
    if _has_non_positive_serial(der):
        problem = "The certificate's serial number is not a positive integer."
    else:
        try:
            cert = x509.load_der_x509_certificate(der)
            # Decode everything now: cryptography parses these lazily and would raise later.
            _ = (cert.subject, cert.issuer, cert.extensions, cert.public_key())
            _ = (cert.signature_hash_algorithm, cert.not_valid_before_utc, cert.not_valid_after_utc)
            return cert
        except UnsupportedAlgorithm:
            raise CertificateError(
                ErrorCode.UNSUPPORTED_ALGORITHM, "The certificate uses an unsupported algorithm."
            ) from None
        except DECODE_ERRORS:
            problem = "The certificate could not be decoded."
    if _is_der_csr(der):  # a CSR's first field is INTEGER 0, its version
        raise CertificateError(ErrorCode.NOT_A_CERTIFICATE, _not_a_certificate_message("REQUEST"))
    raise _malformed(problem)


def _is_der_csr(der: bytes) -> bool:
    try:
        x509.load_der_x509_csr(der)
    except DECODE_ERRORS:  # any failure just means "not a CSR either"
        return False
    return True

"""DER certificates: exactly one per value, or a bounded concatenation of them.

Only the outermost TLV headers are read here (X.690 §8.1, with the DER restrictions of
§10.1); everything inside a certificate is left to ``cryptography``'s strict parser.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.proxy.base import ProxyHeaderError

#: Most certificates any header may carry besides the leaf.
MAX_CHAIN_CERTIFICATES = 10

_SEQUENCE = 0x30
_INTEGER = 0x02
_EXPLICIT_VERSION = 0xA0  # [0] EXPLICIT Version, RFC 5280 §4.1


def _read_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """Read the TLV header at ``offset``.

    Returns:
        ``(tag, content_start, end)``.

    Raises:
        ProxyHeaderError: ``malformed`` for a truncated element or a length DER forbids.
    """
    if offset + 2 > len(data):
        raise ProxyHeaderError("malformed", "The certificate's DER encoding is truncated.")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise ProxyHeaderError("malformed", "The DER value uses an unexpected tag.")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        # 0x80 is BER's indefinite length; DER always uses the definite, minimal form.
        if count == 0 or count > 4 or pos + count > len(data) or data[pos] == 0:
            raise ProxyHeaderError("malformed", "The certificate's DER length is invalid.")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80:
            raise ProxyHeaderError("malformed", "The certificate's DER length is invalid.")
        pos += count
    end = pos + length
    if end > len(data):
        raise ProxyHeaderError("malformed", "The certificate's DER encoding is truncated.")
    return tag, pos, end


def split_certificates(data: bytes, *, max_count: int) -> list[bytes]:
    """Split concatenated DER SEQUENCEs, as HAProxy's ``ssl_c_chain_der`` produces them.

    Raises:
        ProxyHeaderError: ``too_large`` beyond ``max_count`` elements, ``not_a_certificate``
            for an element that is not a SEQUENCE, ``malformed`` for broken framing.
    """
    parts: list[bytes] = []
    offset = 0
    while offset < len(data):
        if len(parts) == max_count:
            raise ProxyHeaderError("too_large", "Too many certificates were forwarded.")
        tag, _, end = _read_element(data, offset)
        if tag != _SEQUENCE:
            raise ProxyHeaderError("not_a_certificate")
        parts.append(data[offset:end])
        offset = end
    return parts


def _is_certificate_run(data: bytes) -> bool:
    try:
        return bool(split_certificates(data, max_count=MAX_CHAIN_CERTIFICATES))
    except ProxyHeaderError:
        return False


def _reject_non_positive_serial(der: bytes) -> None:
    """RFC 5280 §4.1.2.2: the serial number is a positive integer.

    ``cryptography`` still loads such certificates but emits a deprecation warning, which
    would make the outcome depend on the process's warning filters; refuse them first.
    """
    try:
        _, content, _ = _read_element(der, 0)
        tag, offset, _ = _read_element(der, content)  # TBSCertificate
        if tag != _SEQUENCE:
            return
        tag, start, end = _read_element(der, offset)
        if tag == _EXPLICIT_VERSION:
            tag, start, end = _read_element(der, end)
    except ProxyHeaderError as exc:
        raise ProxyHeaderError("not_a_certificate") from exc
    serial = der[start:end]
    if tag == _INTEGER and (not serial or serial[0] & 0x80 or not any(serial)):
        raise ProxyHeaderError(
            "not_a_certificate", "The certificate's serial number is not a positive integer."
        )


#: The same certificate arrives again with every new connection of its holder: what it
#: parses to is kept (certificate objects are immutable; a refusal is never kept).
PARSED_CACHE_SIZE = 512


@lru_cache(maxsize=PARSED_CACHE_SIZE)
def load_certificate(der: bytes) -> x509.Certificate:
    """Load exactly one DER certificate, with nothing after it.

    Raises:
        ProxyHeaderError: ``malformed`` (empty or broken framing), ``chain_as_leaf`` (more
            certificates follow), ``trailing_data`` (other bytes follow), ``not_a_certificate``.
    """
    if not der:
        raise ProxyHeaderError("malformed", "The forwarded certificate is empty.")
    tag, _, end = _read_element(der, 0)
    if tag != _SEQUENCE:
        raise ProxyHeaderError("not_a_certificate")
    if end != len(der):
        if _is_certificate_run(der[end:]):
            raise ProxyHeaderError("chain_as_leaf")
        raise ProxyHeaderError("trailing_data")
    _reject_non_positive_serial(der)
    try:
        certificate = x509.load_der_x509_certificate(der)
        # Names, extensions and the key are decoded lazily: decode them now, so that a
        # certificate the certificate services could not read (a key on a curve the
        # library does not support, say) is refused here, as bad input.
        _ = (
            certificate.subject,
            certificate.issuer,
            certificate.extensions,
            certificate.public_key(),
            certificate.signature_hash_algorithm,
        )
        reencoded = certificate.public_bytes(Encoding.DER)
    except Exception as exc:
        raise ProxyHeaderError("not_a_certificate") from exc
    if reencoded != der:
        raise ProxyHeaderError("not_a_certificate", "The certificate is not in canonical DER.")
    return certificate


def load_certificates(data: bytes, *, max_count: int) -> list[x509.Certificate]:
    """Load a concatenation of DER certificates (possibly empty), at most ``max_count``."""
    return [load_certificate(part) for part in split_certificates(data, max_count=max_count)]

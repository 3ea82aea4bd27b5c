"""Certificate errors: the stable `ErrorCode` reasons and the one `CertificateError` every
refusal raises (its `message` is safe to show to the user), plus the tuples of exceptions that
`cryptography` raises while decoding hostile input, which callers catch at their boundary and turn
into a `CertificateError`.
"""

from __future__ import annotations

from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

__all__ = ["DECODE_ERRORS", "CertificateError", "ErrorCode"]

#: What cryptography raises while decoding hostile DER (lazily, on first access). `Warning` is
#: here because cryptography warns about some malformed input, and tests turn warnings into errors.
DECODE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    x509.UnsupportedGeneralNameType,
    Warning,
)
_SIGNATURE_ERRORS: tuple[type[Exception], ...] = (InvalidSignature, *DECODE_ERRORS)


class ErrorCode(StrEnum):
    """Stable reasons a certificate, CSR, bundle or CRL was refused."""

    # Input that is not one well-formed certificate.
    NOT_A_CERTIFICATE = "not_a_certificate"
    MULTIPLE_CERTIFICATES = "multiple_certificates"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    # Keystile's leaf policy (both modes).
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WEAK_KEY = "weak_key"
    SHA1_SIGNATURE = "sha1_signature"
    LEAF_IS_CA = "leaf_is_ca"
    # CA mode only.
    NO_CLIENT_AUTH_EKU = "no_client_auth_eku"
    BAD_KEY_USAGE = "bad_key_usage"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    REVOKED = "revoked"
    CRL_MISSING = "crl_missing"
    CRL_STALE = "crl_stale"
    CRL_BAD_SIGNATURE = "crl_bad_signature"
    CRL_UNSUPPORTED = "crl_unsupported"
    # Configuration errors, raised when a ClientCAVerifier is built.
    BAD_CA_BUNDLE = "bad_ca_bundle"
    CRL_MALFORMED = "crl_malformed"
    # Raised by app.services.ca.
    BAD_CSR = "bad_csr"
    INVALID_REQUEST = "invalid_request"
    CA_INVALID = "ca_invalid"
    CA_MISSING = "ca_missing"
    CA_EXISTS = "ca_exists"


class CertificateError(Exception):
    """A certificate (or CSR, bundle, CRL) Keystile refuses.

    Attributes:
        code: one of `ErrorCode`; a `StrEnum`, so it compares equal to its plain string.
        message: one sentence that may be shown to the user; it never echoes certificate content.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


def _malformed(message: str) -> CertificateError:
    return CertificateError(ErrorCode.MALFORMED, message)

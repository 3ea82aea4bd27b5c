"""Keystile's own checks on a sign-in certificate, beyond what parses: `check_leaf_policy` (dates,
key strength, no SHA-1/MD5 signature, not a CA) applies in both pinned and CA mode, and
`check_ca_mode_policy` (client-authentication EKU, key usage) only to CA-issued certificates.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.services.certificates.errors import (
    DECODE_ERRORS,
    CertificateError,
    ErrorCode,
    _malformed,
)
from app.services.certificates.facts import _extension, _is_self_signed
from app.services.certificates.keys import check_public_key_strength

__all__ = ["check_ca_mode_policy", "check_leaf_policy"]


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def check_leaf_policy(
    cert: x509.Certificate, *, now: datetime, allow_self_signed_ca: bool = False
) -> None:
    """Keystile's own checks on the certificate presented for sign-in, in pinned and CA mode.

    1. Validity: ``notBefore <= now <= notAfter`` (RFC 5280 §4.1.2.5, §6.1.3 (a)(2)). Proxies can
       be told to forward expired certificates (AWS ALB ``ignoreClientCertificateExpiry``), so the
       dates are always checked here.
    2. Key strength: `check_public_key_strength`.
    3. No SHA-1 or MD5 signature (CA/B BR §7.1.3.2; RFC 6194 §3; RFC 9155 deprecates them in TLS).
    4. Not a CA: ``basicConstraints cA=TRUE`` marks a key that may sign certificates
       (RFC 5280 §4.2.1.9); such a certificate is never a sign-in credential. Pinned mode
       passes ``allow_self_signed_ca``: OpenSSL 3's ``req -x509`` marks every self-signed
       certificate cA=TRUE, and a pinned key vouches for nothing but itself.

    EKU and key usage are *not* checked here: self-signed certificates pinned like SSH keys
    usually carry neither. CA mode adds `check_ca_mode_policy`.

    Raises:
        CertificateError: ``not_yet_valid``, ``expired``, ``weak_key``, ``sha1_signature``,
            ``leaf_is_ca``, or ``malformed``/``unsupported_algorithm`` for an undecodable
            certificate.
        ValueError: `now` is naive.
    """
    _require_aware(now)
    try:
        if now < cert.not_valid_before_utc:
            when = cert.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
            raise CertificateError(
                ErrorCode.NOT_YET_VALID, f"This certificate is not valid before {when}."
            )
        if now > cert.not_valid_after_utc:
            raise CertificateError(
                ErrorCode.EXPIRED,
                f"This certificate expired on {_day(cert.not_valid_after_utc)}.",
            )
        check_public_key_strength(cert.public_key())
        if isinstance(cert.signature_hash_algorithm, hashes.SHA1 | hashes.MD5):
            raise CertificateError(
                ErrorCode.SHA1_SIGNATURE,
                f"This certificate is signed with {cert.signature_hash_algorithm.name.upper()}, "
                "which is no longer safe.",
            )
        constraints = _extension(cert, x509.BasicConstraints)
        if (
            constraints is not None
            and constraints.ca
            and not (allow_self_signed_ca and _is_self_signed(cert))
        ):
            raise CertificateError(
                ErrorCode.LEAF_IS_CA,
                "This is a certificate authority's certificate, not a personal one.",
            )
    except UnsupportedAlgorithm:
        raise CertificateError(
            ErrorCode.UNSUPPORTED_ALGORITHM, "The certificate uses an unsupported algorithm."
        ) from None
    except DECODE_ERRORS:
        raise _malformed("The certificate could not be decoded.") from None


def check_ca_mode_policy(cert: x509.Certificate) -> None:
    """The extra leaf checks for CA mode (run by `ClientCAVerifier.verify` after path validation).

    * extendedKeyUsage must be present and list ``id-kp-clientAuth`` (RFC 5280 §4.2.1.12). An
      absent EKU would technically mean "any purpose", and ``anyExtendedKeyUsage`` alone is not
      enough either: a CA-issued certificate signs in only if its CA meant it for client
      authentication, so a server or S/MIME certificate from the same CA is refused.
    * keyUsage, when present, must assert ``digitalSignature`` (RFC 5280 §4.2.1.3): the client
      signs the handshake (RFC 8446 §4.4.3, RFC 5246 §7.4.8).

    Raises:
        CertificateError: ``no_client_auth_eku``, ``bad_key_usage`` or ``malformed``.
    """
    try:
        usages = _extension(cert, x509.ExtendedKeyUsage)
        if usages is None or ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            raise CertificateError(
                ErrorCode.NO_CLIENT_AUTH_EKU,
                "This certificate was not issued for client authentication.",
            )
        key_usage = _extension(cert, x509.KeyUsage)
        if key_usage is not None and not key_usage.digital_signature:
            raise CertificateError(
                ErrorCode.BAD_KEY_USAGE, "This certificate's key may not be used for signing."
            )
    except DECODE_ERRORS:
        raise _malformed("The certificate could not be decoded.") from None

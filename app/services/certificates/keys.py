"""Public keys: the SPKI pin (`spki_sha256`) that identifies a certificate's key in pinned
mode, the human `key_description` shown beside it, and `check_public_key_strength`, the key types
and sizes Keystile accepts for a client certificate or CSR.
"""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from app.services.certificates.errors import CertificateError, ErrorCode

__all__ = [
    "ALLOWED_CURVES",
    "MAX_RSA_BITS",
    "check_public_key_strength",
    "key_description",
    "spki_sha256",
]

#: RSA moduli above this are refused too: they only make verification slow (OpenSSL's own cap).
MAX_RSA_BITS = 16384
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
_CURVE_NAMES = {**ALLOWED_CURVES, "secp521r1": "P-521"}


def _spki_der(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_sha256(cert: x509.Certificate) -> str:
    """The pin: lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).

    This is RFC 7469's ``pin-sha256`` in hex. The key is re-encoded canonically (named curve,
    uncompressed point), so one key has one pin however a certificate encodes it, and a renewed
    certificate for the same key keeps its pin (threat model B.7). Equals
    ``openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum``.
    """
    return hashlib.sha256(_spki_der(cert)).hexdigest()


def key_description(key: CertificatePublicKeyTypes) -> str:
    """Human description of a public key: ``"EC P-256"``, ``"RSA 2048"``, ``"Ed25519"``, ..."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__


def check_public_key_strength(key: CertificatePublicKeyTypes) -> None:
    """Refuse keys Keystile does not accept for a client certificate or CSR.

    Accepted: RSA of 2048 to 16384 bits with an odd exponent >= 3 (CA/B Forum Baseline
    Requirements §6.1.5-§6.1.6, NIST SP 800-131A Rev. 2 §3), EC on P-256 or P-384 (BR §6.1.5;
    the curves browsers offer for TLS client authentication), and Ed25519 (RFC 8410).
    Everything else (DSA, other curves, Ed448, smaller RSA) is refused.

    Raises:
        CertificateError: ``weak_key``.
    """
    description = key_description(key)
    if isinstance(key, rsa.RSAPublicKey):
        exponent = key.public_numbers().e
        if 2048 <= key.key_size <= MAX_RSA_BITS and exponent >= 3 and exponent % 2 == 1:
            return
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in ALLOWED_CURVES:
            return
    elif isinstance(key, ed25519.Ed25519PublicKey):
        return
    raise CertificateError(
        ErrorCode.WEAK_KEY,
        f"Keystile accepts RSA keys of 2048 bits or more, EC P-256/P-384 and Ed25519 keys; "
        f"this one is {description}.",
    )

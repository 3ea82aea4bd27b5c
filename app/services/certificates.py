"""Client certificates: strict parsing, the SPKI pin, Keystile's policy, chains and CRLs.

Plain Python: no Flask, no database, no environment. Every failure is a `CertificateError` with a
stable `code` (for audit rows and tests) and a `message` that is safe to show to the user.

Two modes use this module:

* pinned mode: the user's own (often self-signed) certificate is identified by `spki_sha256`; only
  `load_certificate` and `check_leaf_policy` apply, because trust comes from the pin itself;
* CA mode: `ClientCAVerifier` chains the leaf to the configured bundle, applies `check_leaf_policy`
  and `check_ca_mode_policy`, then checks every configured CRL (RFC 5280 §6.3).

Identity is never read from a DN string: callers map a verified leaf through its pin or an exact
`san_emails` / `san_upns` value from `describe` (threat model B.10).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

__all__ = [
    "DECODE_ERRORS",
    "MAX_INPUT_BYTES",
    "UPN_OID",
    "CertificateError",
    "CertificateFacts",
    "ClientCAVerifier",
    "ErrorCode",
    "check_ca_mode_policy",
    "check_leaf_policy",
    "check_public_key_strength",
    "describe",
    "key_description",
    "load_certificate",
    "pem_blocks",
    "spki_sha256",
]

#: Largest certificate, CSR, bundle or CRL input accepted, in bytes (threat model A.6).
MAX_INPUT_BYTES = 64 * 1024
#: Microsoft User Principal Name, an otherName in subjectAltName (RFC 5280 §4.2.1.6).
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
#: RSA moduli above this are refused too: they only make verification slow (OpenSSL's own cap).
MAX_RSA_BITS = 16384
ALLOWED_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
_CURVE_NAMES = {**ALLOWED_CURVES, "secp521r1": "P-521"}
_E = TypeVar("_E", bound=x509.ExtensionType)
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


@dataclass(frozen=True)
class CertificateFacts:
    """What Keystile stores and shows about a certificate. Strings here came from the certificate:
    escape them on output (threat model F.27)."""

    spki_sha256: str
    spki_der: bytes
    subject: str
    issuer: str
    serial: str
    not_before: datetime
    not_after: datetime
    key_description: str
    san_emails: tuple[str, ...]
    san_upns: tuple[str, ...]
    der: bytes
    certificate: x509.Certificate = field(repr=False, compare=False)

    @cached_property
    def self_signed(self) -> bool:
        """Issuer equals subject *and* the signature verifies with the certificate's own key
        (RFC 5280 §3.2, §6.2). Worked out when asked: a sign-in does not need it, and the
        signature check costs more than the rest of :func:`describe`."""
        return _is_self_signed(self.certificate)


# --- parsing ------------------------------------------------------------------------------------

_BEGIN = b"-----BEGIN "
_DASHES = b"-----"
_LABEL = re.compile(rb"[A-Z0-9 ]{1,64}")
_CERTIFICATE_LABEL = "CERTIFICATE"


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """Split strict PEM (RFC 7468 §2-§3) into ``(label, DER)`` pairs, in order.

    Only whitespace may surround the blocks, and whitespace inside a block is ignored (so the
    one-line and space-separated forms some proxies send also parse). The scan is linear in the
    input size: every marker search starts where the previous one stopped.

    Raises:
        CertificateError: ``malformed`` for text outside blocks, bad markers or bad base64.
    """
    blocks: list[tuple[str, bytes]] = []
    position = 0
    while True:
        while position < len(data) and data[position : position + 1].isspace():
            position += 1
        if position == len(data):
            return blocks
        if not data.startswith(_BEGIN, position):
            raise _malformed("There is text outside the PEM block.")
        label_start = position + len(_BEGIN)
        label_end = data.find(_DASHES, label_start, label_start + 65)
        if label_end < 0 or not _LABEL.fullmatch(data, label_start, label_end):
            raise _malformed("The PEM header is not valid.")
        label = data[label_start:label_end]
        end_marker = b"-----END " + label + _DASHES
        body_start = label_end + len(_DASHES)
        body_end = data.find(end_marker, body_start)
        if body_end < 0:
            raise _malformed("The PEM block has no matching END line.")
        try:
            der = base64.b64decode(b"".join(data[body_start:body_end].split()), validate=True)
        except (binascii.Error, ValueError):
            raise _malformed("The PEM block is not valid base64.") from None
        blocks.append((label.decode("ascii"), der))
        position = body_end + len(end_marker)


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


def _parse_der_certificate(der: bytes) -> x509.Certificate:
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


def _malformed(message: str) -> CertificateError:
    return CertificateError(ErrorCode.MALFORMED, message)


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """Return ``(tag, value start, value end)`` of the DER element at `offset` (X.690 §8.1)."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, length, position = data[offset], data[offset + 1], offset + 2
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag number")
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or position + size > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[position : position + size], "big")
        position += size
    if position + length > len(data):
        raise ValueError("truncated")
    return tag, position, position + length


def _has_non_positive_serial(der: bytes) -> bool:
    try:
        _, certificate, _ = _der_element(der, 0)
        _, tbs, _ = _der_element(der, certificate)
        tag, start, end = _der_element(der, tbs)
        if tag == 0xA0:  # [0] EXPLICIT version precedes the serial
            tag, start, end = _der_element(der, end)
    except ValueError:
        return False  # not our call: cryptography refuses what does not even walk
    serial = der[start:end]
    return tag == 0x02 and bool(serial) and (serial[0] & 0x80 != 0 or not any(serial))


def _utf8_string(value: bytes) -> str | None:
    """Decode a DER UTF8String (tag 12) that fills `value` exactly, or return None."""
    try:
        tag, start, end = _der_element(value, 0)
        if tag != 0x0C or end != len(value):
            return None
        return value[start:end].decode("utf-8")
    except ValueError:  # includes UnicodeDecodeError
        return None


# --- facts ----------------------------------------------------------------------------------------


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


def describe(cert: x509.Certificate) -> CertificateFacts:
    """Collect the facts Keystile stores about `cert`.

    SAN values are taken verbatim, never from the
    subject DN (threat model B.10).

    Raises:
        CertificateError: ``malformed`` when a certificate that did not come from
            `load_certificate` fails to decode.
    """
    try:
        sans = _extension(cert, x509.SubjectAlternativeName)
        emails = tuple(sans.get_values_for_type(x509.RFC822Name)) if sans else ()
        upns: tuple[str, ...] = ()
        if sans:
            other_names = sans.get_values_for_type(x509.OtherName)
            decoded = (_utf8_string(o.value) for o in other_names if o.type_id == UPN_OID)
            upns = tuple(upn for upn in decoded if upn is not None)
        spki = _spki_der(cert)
        return CertificateFacts(
            spki_sha256=hashlib.sha256(spki).hexdigest(),
            spki_der=spki,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "X"),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            key_description=key_description(cert.public_key()),
            san_emails=emails,
            san_upns=upns,
            der=cert.public_bytes(serialization.Encoding.DER),
            certificate=cert,
        )
    except DECODE_ERRORS:
        raise _malformed("The certificate could not be decoded.") from None


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except _SIGNATURE_ERRORS:  # bad signature or unusable key: "no"
        return False
    return True


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


# --- Keystile's policy ----------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


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
        if constraints is not None and constraints.ca and not (
            allow_self_signed_ca and _is_self_signed(cert)
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


# --- CA mode: chain and revocation ---------------------------------------------------------------


def _ca_key_usage(_policy: Policy, _cert: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    # RFC 5280 §6.1.4 (n): a CA's keyUsage, *if present*, must assert keyCertSign.
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("a CA's keyUsage must assert keyCertSign")


#: The webpki profiles of `cryptography.x509.verification` (CA/B Forum rules for the public web)
#: with three deviations for private client-certificate CAs, which RFC 5280 path validation
#: (§6.1) allows: a CA may omit keyUsage (``openssl req -x509`` does; §6.1.4 (n) checks it only
#: when present), a leaf may omit subjectAltName (holders named only in the subject) and
#: authorityKeyIdentifier (a path-building hint, §4.2.1.1). The leaf's extendedKeyUsage is left
#: to `check_ca_mode_policy`, which runs once the chain is trusted and names the precise reason.
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(
    x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage
)
_EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.AuthorityKeyIdentifier, Criticality.NON_CRITICAL, None)
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
)
_MAX_INTERMEDIATES = 8


@dataclass(frozen=True)
class _Crl:
    crl: x509.CertificateRevocationList
    revoked: dict[int, datetime]
    number: int
    scope: x509.IssuingDistributionPoint | None


class ClientCAVerifier:
    """Verify client certificates against a configured CA bundle and CRLs (threat model B.8-B.9).

    Only the bundle is trusted: `cryptography`'s verifier never consults system or public roots,
    and nothing is fetched (no AIA, no CRL distribution point, no OCSP URL from a certificate).

    When CRLs are configured, *every* certificate below the trust anchor must be covered by a
    current CRL from its issuer, whose signature verifies with that issuer's key: configure the
    CRL of each CA in the bundle (and of each intermediate clients present). Anything else fails
    closed. With no CRLs configured, revocation is not checked at all.

    Args:
        ca_bundle: PEM with one or more CA certificates (``basicConstraints cA=TRUE``) and
            nothing else.
        crls: PEM or DER CRLs, one per item.

    Raises:
        CertificateError: ``bad_ca_bundle``, ``crl_malformed`` or ``crl_unsupported`` (a delta,
            indirect or reason-partitioned CRL, or an unknown critical extension).
    """

    def __init__(self, ca_bundle: bytes, crls: Sequence[bytes] = ()) -> None:
        self._roots = _load_ca_bundle(ca_bundle)
        self._store = Store(list(self._roots))
        self._crls = tuple(_load_crl(data) for data in crls)
        self._signature_checked: dict[tuple[int, bytes], bool] = {}

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return self._roots

    @property
    def crls(self) -> tuple[x509.CertificateRevocationList, ...]:
        return tuple(entry.crl for entry in self._crls)

    def verify(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        *,
        now: datetime,
    ) -> list[x509.Certificate]:
        """Verify `leaf` for sign-in and return the chain, leaf first, trust anchor last.

        Order: Keystile's leaf policy first (precise messages for expired, weak, SHA-1, CA
        leaves), then path validation (RFC 5280 §6.1) by `cryptography.x509.verification` with
        the webpki profile, then the CA-mode EKU/key usage checks (so a certificate from an
        unknown issuer is reported as such), then revocation (§6.3).
        `intermediates` are untrusted path-building hints, such as a forwarded chain.

        Raises:
            CertificateError: any leaf-policy code, ``untrusted_issuer``, ``expired`` (an
                expired CA in the chain), ``revoked``, ``crl_missing``, ``crl_stale``,
                ``crl_bad_signature``, ``crl_unsupported``.
            ValueError: `now` is naive.
        """
        check_leaf_policy(leaf, now=now)
        chain = self._build_chain(leaf, intermediates, now)
        check_ca_mode_policy(leaf)
        if self._crls:
            for cert, issuer in itertools.pairwise(chain):
                self._check_not_revoked(cert, issuer, is_leaf=cert is chain[0], now=now)
        return chain

    def _build_chain(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], now: datetime
    ) -> list[x509.Certificate]:
        if len(intermediates) > _MAX_INTERMEDIATES:
            raise CertificateError(ErrorCode.UNTRUSTED_ISSUER, "The certificate chain is too long.")
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(now)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        try:
            return verifier.verify(leaf, list(intermediates)).chain
        except VerificationError:
            self._raise_if_issuer_expired(leaf, intermediates, now)
            raise CertificateError(
                ErrorCode.UNTRUSTED_ISSUER,
                "This certificate was not issued by a certificate authority this site trusts.",
            ) from None

    def _raise_if_issuer_expired(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], now: datetime
    ) -> None:
        """Name expiry as the reason when every candidate issuer on the way up is out of date.

        Runs only after verification already failed, to pick the message; it matches names,
        not signatures, so it never makes a certificate acceptable.
        """
        pool = [*intermediates, *self._roots]
        current = leaf
        for _ in range(_MAX_INTERMEDIATES + 1):
            issuers = [c for c in pool if c.subject == current.issuer and c is not current]
            if not issuers:
                return
            valid = [c for c in issuers if c.not_valid_before_utc <= now <= c.not_valid_after_utc]
            if not valid:
                latest = max(c.not_valid_after_utc for c in issuers)
                verb = "expired on" if latest < now else "is not valid before"
                raise CertificateError(
                    ErrorCode.EXPIRED,
                    f"A certificate authority in this certificate's chain {verb} {_day(latest)}.",
                )
            current = valid[0]
            if any(current is root for root in self._roots):
                return

    def _check_not_revoked(
        self, cert: x509.Certificate, issuer: x509.Certificate, *, is_leaf: bool, now: datetime
    ) -> None:
        entry = self._current_crl(cert, issuer, now)
        revoked_at = entry.revoked.get(cert.serial_number)
        if revoked_at is None:
            return
        if is_leaf:
            message = f"This certificate was revoked on {_day(revoked_at)}."
        else:
            message = "A certificate authority in this certificate's chain was revoked."
        raise CertificateError(ErrorCode.REVOKED, message)

    def _current_crl(self, cert: x509.Certificate, issuer: x509.Certificate, now: datetime) -> _Crl:
        """Pick the newest CRL that covers `cert` (RFC 5280 §6.3.3 (a)-(b), (f)-(g))."""
        named = [entry for entry in self._crls if entry.crl.issuer == issuer.subject]
        for entry in named:
            # §6.3.3 (f)-(g): the CRL must be signed by the certificate's own issuer, whose key
            # usage (if present) allows cRLSign. A CRL naming the issuer but signed by another
            # key is a misconfiguration or a forgery: fail closed rather than skip it.
            if not self._signed_by(entry, issuer):
                raise CertificateError(
                    ErrorCode.CRL_BAD_SIGNATURE,
                    "A configured revocation list is not signed by the certificate authority "
                    "it names, so revocation cannot be checked.",
                )
        covering = [entry for entry in named if _in_scope(entry, cert)]
        if not covering:
            raise CertificateError(
                ErrorCode.CRL_MISSING,
                "No revocation list is configured for the certificate authority that issued "
                "this certificate, so revocation cannot be checked.",
            )
        newest = max(covering, key=lambda entry: (entry.number, entry.crl.last_update_utc))
        next_update = newest.crl.next_update_utc
        # §5.1.2.4-§5.1.2.5, §6.3.3 (a)(2): use a CRL only inside thisUpdate..nextUpdate. A CRL
        # without nextUpdate has no promised freshness and counts as stale.
        if next_update is None or next_update < now or newest.crl.last_update_utc > now:
            raise CertificateError(
                ErrorCode.CRL_STALE,
                "The revocation list for this certificate's authority is out of date, so "
                "revocation cannot be checked.",
            )
        return newest

    def _signed_by(self, entry: _Crl, issuer: x509.Certificate) -> bool:
        cache_key = (id(entry), issuer.fingerprint(hashes.SHA256()))
        cached = self._signature_checked.get(cache_key)
        if cached is None:
            cached = _crl_signature_ok(entry.crl, issuer)
            self._signature_checked[cache_key] = cached
        return cached


def _crl_signature_ok(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    try:
        key_usage = _extension(issuer, x509.KeyUsage)
        if key_usage is not None and not key_usage.crl_sign:
            return False
        if isinstance(crl.signature_hash_algorithm, hashes.SHA1 | hashes.MD5):
            return False
        public_key = issuer.public_key()
        if not isinstance(
            public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            return False
        return crl.is_signature_valid(public_key)
    except _SIGNATURE_ERRORS:  # unusable key or algorithm: "not signed"
        return False


def _in_scope(entry: _Crl, cert: x509.Certificate) -> bool:
    """RFC 5280 §6.3.3 (b)(2): does a CRL with an issuingDistributionPoint cover `cert`?"""
    scope = entry.scope
    if scope is None:
        return True
    constraints = _extension(cert, x509.BasicConstraints)
    is_ca = constraints is not None and constraints.ca
    if (scope.only_contains_user_certs and is_ca) or (scope.only_contains_ca_certs and not is_ca):
        return False
    if scope.full_name is None:
        return True
    # A partitioned CRL covers only certificates whose cRLDistributionPoints name it. The names
    # are compared, never fetched.
    points = _extension(cert, x509.CRLDistributionPoints) or ()
    names = {name for point in points for name in (point.full_name or ())}
    return any(name in names for name in scope.full_name)


def _load_ca_bundle(data: bytes) -> tuple[x509.Certificate, ...]:
    if len(data) > 16 * MAX_INPUT_BYTES:
        raise CertificateError(ErrorCode.BAD_CA_BUNDLE, "The CA bundle is too large.")
    try:
        blocks = pem_blocks(data)
        if not blocks or any(label != _CERTIFICATE_LABEL for label, _ in blocks):
            raise CertificateError(
                ErrorCode.BAD_CA_BUNDLE,
                "The CA bundle must hold PEM certificates and nothing else.",
            )
        roots = tuple(_parse_der_certificate(der) for _, der in blocks)
    except CertificateError as error:
        raise CertificateError(ErrorCode.BAD_CA_BUNDLE, error.message) from None
    for root in roots:
        # Trust-store confusion (CVE-2023-1664): a user's certificate in the bundle would become
        # a trust anchor for whatever its key signs. RFC 5280 §4.2.1.9.
        constraints = _extension(root, x509.BasicConstraints)
        if constraints is None or not constraints.ca:
            raise CertificateError(
                ErrorCode.BAD_CA_BUNDLE,
                "The CA bundle holds a certificate that is not a CA: "
                f"{root.subject.rfc4514_string()}",
            )
    return roots


def _load_crl(data: bytes) -> _Crl:
    if len(data) > 256 * MAX_INPUT_BYTES:
        raise CertificateError(ErrorCode.CRL_MALFORMED, "A revocation list is too large.")
    try:
        if data.lstrip().startswith(_BEGIN):
            blocks = pem_blocks(data)
            if len(blocks) != 1 or blocks[0][0] != "X509 CRL":
                raise _malformed("Expected one PEM 'X509 CRL' block.")
            data = blocks[0][1]
        crl = x509.load_der_x509_crl(data)
        revoked = {entry.serial_number: entry.revocation_date_utc for entry in crl}
        extensions = crl.extensions
        entry_critical = any(ext.critical for entry in crl for ext in entry.extensions)
        _ = (crl.issuer, crl.last_update_utc, crl.next_update_utc, crl.signature_hash_algorithm)
    except CertificateError as error:
        raise CertificateError(ErrorCode.CRL_MALFORMED, error.message) from None
    except DECODE_ERRORS:
        raise CertificateError(
            ErrorCode.CRL_MALFORMED, "A revocation list could not be decoded."
        ) from None
    unsupported = entry_critical or any(
        isinstance(ext.value, x509.DeltaCRLIndicator)
        or (ext.critical and isinstance(ext.value, x509.UnrecognizedExtension))
        for ext in extensions
    )
    scope = _crl_extension(extensions, x509.IssuingDistributionPoint)
    if scope is not None and (
        scope.indirect_crl
        or scope.only_some_reasons
        or scope.only_contains_attribute_certs
        or scope.relative_name is not None
    ):
        unsupported = True
    if unsupported:
        # RFC 5280 §5.2: a CRL with a critical extension we do not process must not be used;
        # delta (§5.2.4), indirect and reason-partitioned CRLs (§5.2.5) are not complete on
        # their own, so Keystile does not take them.
        raise CertificateError(
            ErrorCode.CRL_UNSUPPORTED,
            "Keystile accepts only complete, direct revocation lists (no delta, indirect or "
            "reason-partitioned CRLs, no unknown critical extensions).",
        )
    number = _crl_extension(extensions, x509.CRLNumber)
    return _Crl(crl=crl, revoked=revoked, number=number.crl_number if number else -1, scope=scope)


def _crl_extension(extensions: x509.Extensions, kind: type[_E]) -> _E | None:
    try:
        return extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None

"""Keystile's built-in certificate authority: ``keystile ca init|issue|crl`` and CSR signing.

Plain Python: no Flask, no database, no environment. The CA is meant for development and small
deployments; its certificates follow the profile `certificates.ClientCAVerifier` checks (RFC 5280
§4.2 extensions, CA/B Forum Baseline Requirements §7.1 where they apply to client certificates).
Errors are `certificates.CertificateError`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.services.certificates import (
    DECODE_ERRORS,
    MAX_INPUT_BYTES,
    CertificateError,
    ErrorCode,
    check_public_key_strength,
    pem_blocks,
)

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "CertificateAuthority",
    "PrivateKey",
    "build_crl",
    "init_ca",
    "issue_client_certificate",
    "issue_server_certificate",
    "load",
    "save",
    "sign_csr",
    "to_pkcs12",
]

PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
#: Certificates start a little in the past so that clients with a slow clock accept them.
BACKDATE = timedelta(minutes=5)
_CSR_LABELS = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}
#: A lower-case DNS host name of LDH labels (RFC 1123 §2.1), at most 253 characters.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}")


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate and its private key (EC or RSA), checked to belong together."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    def __post_init__(self) -> None:
        if _spki(self.cert.public_key()) != _spki(self.key.public_key()):
            raise CertificateError(
                ErrorCode.CA_INVALID, "The CA key does not match its certificate."
            )
        try:
            constraints = self.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        except (ValueError, x509.DuplicateExtension):
            raise CertificateError(
                ErrorCode.CA_INVALID, "The CA certificate cannot be decoded."
            ) from None
        if constraints is None or not constraints.ca:
            raise CertificateError(ErrorCode.CA_INVALID, "The CA certificate is not a CA.")


# --- the CA itself --------------------------------------------------------------------------------


def init_ca(
    *,
    common_name: str = "Keystile Development CA",
    valid_days: int = 3650,
    now: datetime | None = None,
) -> CertificateAuthority:
    """Create a self-signed root: EC P-256, ``basicConstraints cA=TRUE, pathLen=0`` (critical,
    RFC 5280 §4.2.1.9), ``keyUsage keyCertSign, cRLSign`` (critical, §4.2.1.3) and a subject key
    identifier (§4.2.1.2). Path length 0: it issues end-entity certificates only.

    Raises:
        CertificateError: ``invalid_request`` for a bad name or lifetime.
    """
    start = _start(now)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(start + BACKDATE + _days(valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(cert=cert, key=key)


def save(
    ca: CertificateAuthority,
    directory: Path,
    *,
    password: bytes | None = None,
    overwrite: bool = False,
) -> None:
    """Write ``ca.crt`` (PEM) and ``ca.key`` (PKCS#8 PEM, mode 0600, encrypted when `password`).

    The directory is created with mode 0700 if missing. An existing CA is never replaced unless
    `overwrite`: losing the key would orphan every issued certificate.

    Raises:
        CertificateError: ``ca_exists``.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if not overwrite and (cert_path.exists() or key_path.exists()):
        raise CertificateError(ErrorCode.CA_EXISTS, f"A CA already exists in {directory}.")
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    key_pem = ca.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write(key_path, key_pem, mode=0o600)
    _write(cert_path, ca.cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def load(directory: Path, *, password: bytes | None = None) -> CertificateAuthority:
    """Read the CA written by `save`.

    Raises:
        CertificateError: ``ca_missing`` (no files), ``ca_invalid`` (unreadable, wrong password,
            key and certificate do not match, not a CA, unsupported key type).
    """
    try:
        cert_pem = (directory / CA_CERT_FILE).read_bytes()
        key_pem = (directory / CA_KEY_FILE).read_bytes()
    except FileNotFoundError:
        raise CertificateError(ErrorCode.CA_MISSING, f"No CA found in {directory}.") from None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=password)
    except (ValueError, TypeError):
        raise CertificateError(
            ErrorCode.CA_INVALID,
            f"The CA in {directory} cannot be read (or the password is wrong).",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateError(ErrorCode.CA_INVALID, "The CA key must be an EC or RSA key.")
    return CertificateAuthority(cert=cert, key=key)


# --- issuing --------------------------------------------------------------------------------------


def issue_client_certificate(
    ca: CertificateAuthority,
    *,
    common_name: str,
    email: str | None,
    public_key: CertificatePublicKeyTypes | None = None,
    valid_days: int = 365,
    now: datetime | None = None,
) -> tuple[x509.Certificate, PrivateKey | None]:
    """Issue a client-authentication certificate.

    Profile: subject ``CN=common_name``; ``basicConstraints cA=FALSE`` (critical, RFC 5280
    §4.2.1.9); ``keyUsage digitalSignature`` (critical, §4.2.1.3); ``extendedKeyUsage
    clientAuth`` (§4.2.1.12); ``subjectAltName rfc822Name`` when `email` is given (§4.2.1.6);
    subject and authority key identifiers (§4.2.1.1-§4.2.1.2); a random 128-bit serial (CA/B
    BR §7.1 asks for at least 64 random bits). The certificate never outlives the CA.

    Returns:
        The certificate and, when `public_key` is None, the new EC P-256 private key.

    Raises:
        CertificateError: ``weak_key`` (see `certificates.check_public_key_strength`),
            ``invalid_request`` (bad name, e-mail or lifetime).
    """
    private_key: PrivateKey | None = None
    if public_key is None:
        private_key = ec.generate_private_key(ec.SECP256R1())
        public_key = private_key.public_key()
    check_public_key_strength(public_key)
    builder = _leaf_builder(ca, _name(common_name), public_key, valid_days, now)
    builder = builder.add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
    )
    if email is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name(_checked_email(email))]), critical=False
        )
    return builder.sign(ca.key, hashes.SHA256()), private_key


def sign_csr(
    ca: CertificateAuthority,
    csr_pem: bytes,
    *,
    common_name: str,
    email: str | None,
    valid_days: int = 365,
    now: datetime | None = None,
) -> x509.Certificate:
    """Issue a client certificate for the key in a PKCS#10 request (RFC 2986).

    Only the request's public key is used, after its self-signature proves possession of the
    private key (RFC 2986 §3, RFC 4211 §4). The requested subject and every requested extension
    are ignored: the CA alone decides the name (``CN=common_name``) and the SAN e-mail, so a
    request cannot ask for someone else's identity (threat model F.25).

    Args:
        csr_pem: one PEM ``CERTIFICATE REQUEST`` block (``NEW CERTIFICATE REQUEST`` too) or DER.

    Raises:
        CertificateError: ``bad_csr`` (unparseable, several blocks, bad signature),
            ``weak_key``, ``invalid_request``.
    """
    csr = _load_csr(csr_pem)
    try:
        signature_ok = csr.is_signature_valid
        public_key = csr.public_key()
    except DECODE_ERRORS:  # unsupported algorithms and broken keys
        raise _bad_csr("The certificate request uses an unsupported algorithm.") from None
    if not signature_ok:
        raise _bad_csr("The certificate request's signature is not valid.")
    certificate, _ = issue_client_certificate(
        ca,
        common_name=common_name,
        email=email,
        public_key=public_key,
        valid_days=valid_days,
        now=now,
    )
    return certificate


def issue_server_certificate(
    ca: CertificateAuthority,
    *,
    hostnames: Sequence[str],
    valid_days: int = 825,
    now: datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Issue a TLS server certificate for the development server.

    SAN ``dNSName`` for each host name and ``iPAddress`` for IP literals; ``localhost`` also gets
    127.0.0.1 and ::1 (CA/B BR §7.1.2.7.12; clients match only the SAN, RFC 6125 §6.4.4).
    ``extendedKeyUsage serverAuth``, ``keyUsage digitalSignature`` (an EC key has no key
    encipherment, RFC 8813 §3). 825 days is the longest lifetime Apple platforms accept.

    Returns:
        The certificate and its new EC P-256 private key.

    Raises:
        CertificateError: ``invalid_request`` for no or bad host names.
    """
    names = _san_for_hosts(hostnames)
    key = ec.generate_private_key(ec.SECP256R1())
    first = hostnames[0]
    # BR §7.1.4.3: a common name, if any, repeats a SAN value; it is limited to 64 characters.
    subject = _name(first) if len(first) <= 64 else x509.Name([])
    builder = _leaf_builder(ca, subject, key.public_key(), valid_days, now)
    builder = builder.add_extension(
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
    ).add_extension(x509.SubjectAlternativeName(names), critical=len(subject) == 0)
    return builder.sign(ca.key, hashes.SHA256()), key


def build_crl(
    ca: CertificateAuthority,
    revoked: Iterable[tuple[int, datetime]],
    *,
    now: datetime,
    next_update: timedelta = timedelta(days=7),
    crl_number: int | None = None,
) -> x509.CertificateRevocationList:
    """Build a complete, direct CRL (RFC 5280 §5) listing ``(serial, revoked_at)`` pairs.

    It carries the authority key identifier (§5.2.1) and a CRL number (§5.2.3), which defaults
    to the Unix time of `now` so that successive CRLs increase. Verifiers use it only until
    ``now + next_update`` (§5.1.2.5): re-issue it before then.
    """
    if next_update <= timedelta(0):
        raise CertificateError(ErrorCode.INVALID_REQUEST, "next_update must be positive.")
    number = int(now.timestamp()) if crl_number is None else crl_number
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + next_update)
        .add_extension(_authority_key_id(ca), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial, revoked_at in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(revoked_at)
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256())


def to_pkcs12(
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    password: bytes,
    friendly_name: bytes,
    chain: Sequence[x509.Certificate] = (),
) -> bytes:
    """Bundle a certificate and its key for browser import.

    PBES2 with PBKDF2-HMAC-SHA256 (50,000 rounds) and AES-256-CBC, SHA-256 MAC (RFC 8018 §6.2,
    RFC 7292 Appendix B): what current Chromium/NSS, Firefox, macOS and OpenSSL 3 import, unlike
    the legacy RC2/3DES default of old tools.

    Raises:
        CertificateError: ``invalid_request`` for an empty password.
    """
    if not password:
        raise CertificateError(
            ErrorCode.INVALID_REQUEST, "A PKCS#12 file needs a password to protect its key."
        )
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password)
    )
    return pkcs12.serialize_key_and_certificates(
        friendly_name, key, cert, list(chain) or None, encryption
    )


# --- helpers --------------------------------------------------------------------------------------


def _leaf_builder(
    ca: CertificateAuthority,
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    valid_days: int,
    now: datetime | None,
) -> x509.CertificateBuilder:
    start = _start(now)
    not_after = min(start + BACKDATE + _days(valid_days), ca.cert.not_valid_after_utc)
    if not_after <= start:
        raise CertificateError(ErrorCode.INVALID_REQUEST, "The CA certificate has expired.")
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(_serial())
        .not_valid_before(start)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
    )


def _authority_key_id(ca: CertificateAuthority) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    # X.520 ub-common-name: 1 to 64 characters (RFC 5280 Appendix A.1).
    if not 1 <= len(common_name) <= 64 or not common_name.isprintable():
        raise CertificateError(
            ErrorCode.INVALID_REQUEST, "The common name must be 1 to 64 printable characters."
        )
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _checked_email(email: str) -> str:
    # rfc822Name is IA5String (RFC 5280 §4.2.1.6): ASCII only; internationalised addresses
    # would need SmtpUTF8Mailbox (RFC 9598), which Keystile does not issue.
    if not email.isascii() or not _EMAIL.fullmatch(email):
        raise CertificateError(ErrorCode.INVALID_REQUEST, "The e-mail address is not valid.")
    return email


def _san_for_hosts(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    if not hostnames:
        raise CertificateError(ErrorCode.INVALID_REQUEST, "At least one host name is needed.")
    names: list[x509.GeneralName] = []
    for host in (name.lower() for name in hostnames):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
            continue
        except ValueError:
            pass
        if not _HOSTNAME.fullmatch(host):
            raise CertificateError(ErrorCode.INVALID_REQUEST, f"Not a valid host name: {host!r}.")
        names.append(x509.DNSName(host))
        if host == "localhost":
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ("127.0.0.1", "::1")]
    return list(dict.fromkeys(names))  # drop repeats, keep order


def _load_csr(data: bytes) -> x509.CertificateSigningRequest:
    if len(data) > MAX_INPUT_BYTES:
        raise _bad_csr("The certificate request is too large.")
    try:
        if data.lstrip().startswith(b"-----BEGIN "):
            blocks = pem_blocks(data)
            if len(blocks) != 1 or blocks[0][0] not in _CSR_LABELS:
                raise _bad_csr("Expected one PEM 'CERTIFICATE REQUEST' block.")
            data = blocks[0][1]
        csr = x509.load_der_x509_csr(data)
        _ = (csr.subject, csr.extensions)  # decode now; cryptography parses lazily
    except CertificateError as error:
        raise _bad_csr(error.message) from None
    except DECODE_ERRORS:
        raise _bad_csr("The certificate request could not be decoded.") from None
    return csr


def _bad_csr(message: str) -> CertificateError:
    return CertificateError(ErrorCode.BAD_CSR, message)


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _serial() -> int:
    # 128 random bits, kept positive and non-zero (RFC 5280 §4.1.2.2: at most 20 octets).
    return secrets.randbits(128) or 1


def _start(now: datetime | None) -> datetime:
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    return moment.replace(microsecond=0) - BACKDATE


#: the longest lifetime a certificate or CRL of this CA may have
MAX_DAYS = 36500


def _days(valid_days: int) -> timedelta:
    if not 1 <= valid_days <= MAX_DAYS:
        raise CertificateError(
            ErrorCode.INVALID_REQUEST, "The lifetime must be between 1 and 36500 days."
        )
    return timedelta(days=valid_days)


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Write through a new file created with `mode`, then rename, so a private key is never
    readable by others even for a moment, and a crash leaves the old file intact."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)  # the umask may have narrowed or the mode be wider
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

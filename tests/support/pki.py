"""A throw-away PKI for tests: CAs, a server certificate, good and bad client certificates, CRLs.

Built with `cryptography` directly, not with `app.services.ca`, so that the code under test never
vouches for its own fixtures. `make_pki(directory)` writes every file and returns a `Pki`; it
takes a few tens of milliseconds (EC P-256 keys, RSA generated once per process).

Files in `directory` (PEM unless noted): ``ca.crt``/``ca.key``, ``other-ca.*``,
``intermediate.*``, ``server.*``, ``<client>.crt``/``<client>.key`` for every client below,
``good.p12`` and ``self_signed.p12`` (password ``test``), ``crl.pem``, ``crl-stale.pem``,
``crl-wrong-key.pem``, ``crl-other-ca.pem``, ``crl-intermediate.pem``.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from app.services.ca import CertificateAuthority

P12_PASSWORD = b"test"
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
GOOD_EMAIL = "alice@example.org"
GOOD_UPN = "alice@corp.example.org"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Authority:
    """A CA of the test PKI."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def as_authority(self) -> CertificateAuthority:
        """This CA as Keystile's own `CertificateAuthority`, to issue or sign with it."""
        return CertificateAuthority(cert=self.cert, key=self.key)


@dataclass(frozen=True)
class Identity:
    """A certificate with its key, as objects and as files."""

    name: str
    cert: x509.Certificate
    key: PrivateKey
    cert_path: Path
    key_path: Path
    p12_path: Path | None = None

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Crl:
    crl: x509.CertificateRevocationList
    path: Path

    @property
    def pem(self) -> bytes:
        return self.crl.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Pki:
    directory: Path
    now: dt.datetime
    #: Trusted root (path length unlimited, so it can carry `intermediate`).
    ca: Authority
    #: An unrelated root that is never in the bundle.
    other_ca: Authority
    #: Signed by `ca`, path length 0.
    intermediate: Authority
    #: TLS server certificate for localhost, 127.0.0.1 and ::1, signed by `ca`.
    server: Identity
    #: CN alice, SAN e-mail alice@example.org and UPN alice@corp.example.org, clientAuth; has p12.
    good: Identity
    #: CN alice-self, self-signed, no extensions at all (like an SSH key); has p12.
    self_signed: Identity
    #: Same key as `self_signed`, new serial and dates.
    renewed_self_signed: Identity
    #: CA-issued, expired yesterday.
    expired: Identity
    #: CA-issued, valid from tomorrow.
    not_yet_valid: Identity
    #: CA-issued, listed in `crl` (and `stale_crl`).
    revoked: Identity
    #: Issued by `other_ca` with the same names as `good` (certificate stuffing, CVE-2023-2422).
    other_ca_client: Identity
    #: CA-issued, signature ecdsa-with-SHA1 (cryptography cannot sign with SHA-1: DER surgery).
    sha1: Identity
    #: CA-issued, RSA 1024-bit key.
    rsa1024: Identity
    #: CA-issued client certificate with basicConstraints cA=TRUE.
    leaf_ca: Identity
    #: CA-issued without extendedKeyUsage.
    no_eku: Identity
    #: CA-issued with extendedKeyUsage serverAuth only.
    server_eku: Identity
    #: Issued by `intermediate` (chain leaf -> intermediate -> ca), bob@example.org.
    chained: Identity
    #: `ca`'s current CRL listing `revoked`.
    crl: Crl
    #: `ca`'s CRL whose nextUpdate was yesterday.
    stale_crl: Crl
    #: Names `ca` as issuer (and copies its key identifier) but is signed by `other_ca`'s key.
    wrong_key_crl: Crl
    #: `other_ca`'s current, empty CRL.
    other_ca_crl: Crl
    #: `intermediate`'s current, empty CRL.
    intermediate_crl: Crl
    p12_password: bytes = field(default=P12_PASSWORD)

    def clients(self) -> dict[str, Identity]:
        """Every client identity by name (not the server)."""
        return {
            name: value
            for name, value in vars(self).items()
            if isinstance(value, Identity) and name != "server"
        }


def make_pki(directory: Path, *, now: dt.datetime | None = None) -> Pki:
    """Create the PKI in `directory` (created if missing) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    day = dt.timedelta(days=1)
    b = _Builder(directory, now)

    ca = b.authority("ca", "Keystile Test CA", path_length=None)
    other_ca = b.authority("other-ca", "Other Untrusted CA", path_length=None)
    intermediate = b.authority("intermediate", "Keystile Test Issuing CA", issuer=ca)

    server_key = _ec_key()
    server = b.identity(
        "server",
        b.leaf(
            ca,
            "localhost",
            server_key,
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
            sans=[
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ],
        ),
        server_key,
    )

    alice_sans: list[x509.GeneralName] = [
        x509.RFC822Name(GOOD_EMAIL),
        x509.OtherName(UPN_OID, _utf8_string(GOOD_UPN)),
    ]
    self_key = _ec_key()
    revoked_cert, revoked_key = b.client(ca, "revoked-carol", email="carol@example.org")
    crl = b.crl("crl", ca, [revoked_cert.serial_number], this_update=now - dt.timedelta(hours=1))
    good_cert, good_key = b.client(ca, "alice", sans=alice_sans)
    self_cert = b.self_signed("alice-self", self_key, not_before=now - 30 * day)
    sha1_cert, sha1_key = b.client(ca, "sha1-dave", email="dave@example.org")

    return Pki(
        directory=directory,
        now=now,
        ca=ca,
        other_ca=other_ca,
        intermediate=intermediate,
        server=server,
        good=b.identity("good", good_cert, good_key, p12=True),
        self_signed=b.identity("self_signed", self_cert, self_key, p12=True),
        renewed_self_signed=b.identity(
            "renewed_self_signed",
            b.self_signed("alice-self", self_key, not_before=now - dt.timedelta(hours=1)),
            self_key,
        ),
        expired=b.identity(
            "expired", *b.client(ca, "old-alice", not_before=now - 30 * day, not_after=now - day)
        ),
        not_yet_valid=b.identity(
            "not_yet_valid",
            *b.client(ca, "future-alice", not_before=now + day, not_after=now + 30 * day),
        ),
        revoked=b.identity("revoked", revoked_cert, revoked_key),
        other_ca_client=b.identity(
            "other_ca_client", *b.client(other_ca, "alice", sans=alice_sans)
        ),
        sha1=b.identity("sha1", _resign_with_sha1(sha1_cert, ca.key), sha1_key),
        rsa1024=b.identity("rsa1024", *b.client(ca, "weak-erin", key=_rsa_key(1024))),
        leaf_ca=b.identity("leaf_ca", *b.client(ca, "ca-frank", ca_flag=True)),
        no_eku=b.identity("no_eku", *b.client(ca, "no-eku-grace", eku=None)),
        server_eku=b.identity(
            "server_eku", *b.client(ca, "server-heidi", eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
        ),
        chained=b.identity("chained", *b.client(intermediate, "bob", email="bob@example.org")),
        crl=crl,
        stale_crl=b.crl(
            "crl-stale",
            ca,
            [revoked_cert.serial_number],
            this_update=now - 10 * day,
            next_update=now - day,
        ),
        wrong_key_crl=b.crl("crl-wrong-key", ca, [], this_update=now, signer=other_ca.key),
        other_ca_crl=b.crl("crl-other-ca", other_ca, [], this_update=now),
        intermediate_crl=b.crl("crl-intermediate", intermediate, [], this_update=now),
    )


# --- building blocks ------------------------------------------------------------------------------


def _ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def _rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Keystile Tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key_usage(*, digital_signature: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _serial() -> int:
    return x509.random_serial_number()


class _Builder:
    def __init__(self, directory: Path, now: dt.datetime) -> None:
        self.directory = directory
        self.now = now

    def authority(
        self, stem: str, cn: str, *, path_length: int | None = 0, issuer: Authority | None = None
    ) -> Authority:
        key = _ec_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.cert.subject if issuer else _name(cn))
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(self.now - dt.timedelta(days=2))
            .not_valid_after(self.now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        if issuer:
            builder = builder.add_extension(_aki(issuer.cert), critical=False)
        cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
        cert_path, key_path = self._write(stem, cert, key)
        return Authority(cert=cert, key=key, cert_path=cert_path, key_path=key_path)

    def leaf(
        self,
        issuer: Authority,
        cn: str,
        key: PrivateKey,
        *,
        eku: list[ObjectIdentifier] | None,
        sans: list[x509.GeneralName] | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        ca_flag: bool = False,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(not_before or self.now - dt.timedelta(days=1))
            .not_valid_after(not_after or self.now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca_flag, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, ca=ca_flag), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(_aki(issuer.cert), critical=False)
        )
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(issuer.key, hashes.SHA256())

    def client(
        self,
        issuer: Authority,
        cn: str,
        *,
        email: str | None = None,
        sans: list[x509.GeneralName] | None = None,
        key: PrivateKey | None = None,
        eku: tuple[ObjectIdentifier, ...] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        ca_flag: bool = False,
    ) -> tuple[x509.Certificate, PrivateKey]:
        key = key or _ec_key()
        cert = self.leaf(
            issuer,
            cn,
            key,
            eku=list(eku) if eku else None,
            sans=[x509.RFC822Name(email)] if email else sans,
            not_before=not_before,
            not_after=not_after,
            ca_flag=ca_flag,
        )
        return cert, key

    def self_signed(
        self, cn: str, key: ec.EllipticCurvePrivateKey, *, not_before: dt.datetime
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(not_before)
            .not_valid_after(not_before + dt.timedelta(days=730))
            .sign(key, hashes.SHA256())
        )

    def identity(
        self, stem: str, cert: x509.Certificate, key: PrivateKey, *, p12: bool = False
    ) -> Identity:
        cert_path, key_path = self._write(stem, cert, key)
        p12_path = None
        if p12:
            p12_path = self.directory / f"{stem}.p12"
            p12_path.write_bytes(_pkcs12(stem.encode(), cert, key))
        return Identity(stem, cert, key, cert_path, key_path, p12_path)

    def crl(
        self,
        stem: str,
        issuer: Authority,
        serials: list[int],
        *,
        this_update: dt.datetime,
        next_update: dt.datetime | None = None,
        signer: ec.EllipticCurvePrivateKey | None = None,
    ) -> Crl:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(this_update)
            .next_update(next_update or this_update + dt.timedelta(days=7))
            .add_extension(_aki(issuer.cert), critical=False)
            .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
        )
        for serial in serials:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(this_update - dt.timedelta(hours=1))
                .build()
            )
        crl = builder.sign(signer or issuer.key, hashes.SHA256())
        path = self.directory / f"{stem}.pem"
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return Crl(crl, path)

    def _write(self, stem: str, cert: x509.Certificate, key: PrivateKey) -> tuple[Path, Path]:
        cert_path, key_path = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        return cert_path, key_path


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _pkcs12(name: bytes, cert: x509.Certificate, key: PrivateKey) -> bytes:
    # The encryption browsers (Chromium/NSS) import; see app.services.ca.to_pkcs12.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(50000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(P12_PASSWORD)
    )
    return pkcs12.serialize_key_and_certificates(name, key, cert, None, encryption)


# --- minimal DER, for what cryptography refuses to build ------------------------------------------

#: ecdsa-with-SHA1, RFC 5758 §3.2 (parameters absent): OID 1.2.840.10045.4.1.
_ECDSA_SHA1 = bytes.fromhex("300906072a8648ce3d0401")


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _utf8_string(text: str) -> bytes:
    return _der(0x0C, text.encode())


def _children(der: bytes) -> list[bytes]:
    """The DER elements inside the SEQUENCE `der` (short or long lengths)."""
    assert der[0] == 0x30
    offset, items = _header_length(der, 0)[0], []
    while offset < len(der):
        start, length = _header_length(der, offset)
        items.append(der[offset : start + length])
        offset = start + length
    return items


def _header_length(der: bytes, offset: int) -> tuple[int, int]:
    """Return (value start, value length) of the element at `offset`."""
    first = der[offset + 1]
    if first < 0x80:
        return offset + 2, first
    size = first & 0x7F
    return offset + 2 + size, int.from_bytes(der[offset + 2 : offset + 2 + size], "big")


def _resign_with_sha1(
    cert: x509.Certificate, issuer_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    """Re-sign `cert` with ecdsa-with-SHA1: swap both AlgorithmIdentifiers and the signature.

    cryptography 50 refuses to create SHA-1 signatures (``UnsupportedAlgorithm``), but ECDSA over
    a SHA-1 digest still works, and certificates signed that way still load.
    """
    fields = _children(cert.tbs_certificate_bytes)
    index = 2 if fields[0][0] == 0xA0 else 1  # [0] version, serial, *signature*, ...
    fields[index] = _ECDSA_SHA1
    tbs = _der(0x30, b"".join(fields))
    signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA1()))  # noqa: S303 (the point)
    der = _der(0x30, tbs + _ECDSA_SHA1 + _der(0x03, b"\x00" + signature))
    return x509.load_der_x509_certificate(der)


def self_signed_named(cn: str) -> x509.Certificate:
    """A self-signed client certificate whose common name is ``cn``, whatever it holds (a
    UTF8String may carry control characters, which is what some tests need)."""
    now = dt.datetime.now(dt.UTC)
    return _Builder(Path("."), now).self_signed(
        cn, _ec_key(), not_before=now - dt.timedelta(days=1)
    )

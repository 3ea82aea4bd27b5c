"""app.services.ca: Keystile's built-in CA, checked with Keystile's own verifier, cryptography's
server verifier and the openssl CLI."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from app.services import ca as ca_service
from app.services.ca import (
    CertificateAuthority,
    build_crl,
    init_ca,
    issue_client_certificate,
    issue_server_certificate,
    sign_csr,
    to_pkcs12,
)
from app.services.certificates import (
    CertificateError,
    ClientCAVerifier,
    ErrorCode,
    describe,
    load_certificate,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
E = TypeVar("E", bound=x509.ExtensionType)


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return init_ca(now=NOW - DAY)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


# --- the CA itself --------------------------------------------------------------------------------


def test_init_ca_profile(authority: CertificateAuthority) -> None:
    cert = authority.cert
    assert cert.subject.rfc4514_string() == "CN=Keystile Development CA"
    assert cert.issuer == cert.subject
    assert isinstance(authority.key, ec.EllipticCurvePrivateKey)
    assert authority.key.curve.name == "secp256r1"
    constraints = _ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(True, 0)
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert _ext(cert, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        authority.key.public_key()
    )
    assert cert.not_valid_after_utc - NOW == dt.timedelta(days=3649)
    cert.verify_directly_issued_by(cert)


def test_save_and_load_round_trip(authority: CertificateAuthority, tmp_path: Path) -> None:
    directory = tmp_path / "ca"
    ca_service.save(authority, directory)
    assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == ["ca.crt", "ca.key"]  # no temp files
    loaded = ca_service.load(directory)
    assert loaded.cert == authority.cert
    assert loaded.key.private_numbers() == authority.key.private_numbers()


def test_save_keeps_key_private_under_a_permissive_umask(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    import os

    previous = os.umask(0)
    try:
        ca_service.save(authority, tmp_path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600


def test_save_refuses_to_replace_a_ca(authority: CertificateAuthority, tmp_path: Path) -> None:
    ca_service.save(authority, tmp_path)
    other = init_ca(common_name="Another")
    with pytest.raises(CertificateError) as error:
        ca_service.save(other, tmp_path)
    assert error.value.code == ErrorCode.CA_EXISTS
    assert ca_service.load(tmp_path).cert == authority.cert
    ca_service.save(other, tmp_path, overwrite=True)
    assert ca_service.load(tmp_path).cert == other.cert
    assert stat.S_IMODE((tmp_path / "ca.key").stat().st_mode) == 0o600


def test_encrypted_key(authority: CertificateAuthority, tmp_path: Path) -> None:
    ca_service.save(authority, tmp_path, password=b"secret")
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "ca.key").read_bytes()
    assert ca_service.load(tmp_path, password=b"secret").cert == authority.cert
    for wrong in (None, b"wrong"):
        with pytest.raises(CertificateError) as error:
            ca_service.load(tmp_path, password=wrong)
        assert error.value.code == ErrorCode.CA_INVALID


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(CertificateError) as error:
        ca_service.load(tmp_path)
    assert error.value.code == ErrorCode.CA_MISSING


def test_key_must_match_certificate(authority: CertificateAuthority) -> None:
    with pytest.raises(CertificateError) as error:
        CertificateAuthority(cert=authority.cert, key=ec.generate_private_key(ec.SECP256R1()))
    assert error.value.code == ErrorCode.CA_INVALID


def test_a_leaf_cannot_act_as_ca(authority: CertificateAuthority) -> None:
    cert, key = issue_client_certificate(authority, common_name="alice", email=None, now=NOW)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    with pytest.raises(CertificateError) as error:
        CertificateAuthority(cert=cert, key=key)
    assert error.value.code == ErrorCode.CA_INVALID


def test_openssl_accepts_the_ca(authority: CertificateAuthority, tmp_path: Path) -> None:
    cert, _ = issue_client_certificate(authority, common_name="alice", email="a@example.org")
    (tmp_path / "ca.crt").write_bytes(_pem(authority.cert))
    (tmp_path / "alice.crt").write_bytes(_pem(cert))
    result = subprocess.run(
        ["openssl", "verify", "-purpose", "sslclient", "-CAfile", "ca.crt", "alice.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "alice.crt: OK"


# --- client certificates --------------------------------------------------------------------------


def test_issued_client_certificate_profile(authority: CertificateAuthority) -> None:
    cert, key = issue_client_certificate(
        authority, common_name="alice", email="alice@example.org", now=NOW
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert cert.public_key() == key.public_key()
    assert cert.subject.rfc4514_string() == "CN=alice"
    assert cert.issuer == authority.cert.subject
    assert 0 < cert.serial_number < 2**128
    assert cert.not_valid_before_utc == NOW - ca_service.BACKDATE
    assert cert.not_valid_after_utc == NOW + 365 * DAY
    assert _ext(cert, x509.BasicConstraints).value.ca is False
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert describe(cert).san_emails == ("alice@example.org",)
    aki = _ext(cert, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == _ext(authority.cert, x509.SubjectKeyIdentifier).value.digest
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"


def test_serials_are_random(authority: CertificateAuthority) -> None:
    serials = {
        issue_client_certificate(authority, common_name="x", email=None, now=NOW)[0].serial_number
        for _ in range(20)
    }
    assert len(serials) == 20
    assert max(serials).bit_length() > 100


@pytest.mark.parametrize("email", [pytest.param("alice@example.org", id="with-email"), None])
def test_issued_certificate_verifies(authority: CertificateAuthority, email: str | None) -> None:
    """The CA's profile passes Keystile's own CA mode, SAN or not."""
    cert, _ = issue_client_certificate(authority, common_name="alice", email=email, now=NOW)
    verifier = ClientCAVerifier(_pem(authority.cert))
    assert verifier.verify(cert, now=NOW) == [cert, authority.cert]


def test_given_public_key_returns_no_private_key(authority: CertificateAuthority) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    cert, private = issue_client_certificate(
        authority, common_name="alice", email=None, public_key=key.public_key(), now=NOW
    )
    assert private is None
    assert cert.public_key() == key.public_key()


def test_weak_public_key_is_refused(authority: CertificateAuthority) -> None:
    weak = rsa.generate_private_key(65537, 1024).public_key()  # noqa: S505 (the point)
    with pytest.raises(CertificateError) as error:
        issue_client_certificate(authority, common_name="x", email=None, public_key=weak)
    assert error.value.code == ErrorCode.WEAK_KEY


def test_certificate_never_outlives_its_ca(authority: CertificateAuthority) -> None:
    cert, _ = issue_client_certificate(
        authority, common_name="x", email=None, valid_days=36500, now=NOW
    )
    assert cert.not_valid_after_utc == authority.cert.not_valid_after_utc


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param({"common_name": ""}, id="empty-name"),
        pytest.param({"common_name": "x" * 65}, id="name-over-64"),
        pytest.param({"common_name": "a\nb"}, id="name-with-newline"),
        pytest.param({"email": "not-an-address"}, id="email-without-at"),
        pytest.param({"email": "a b@example.org"}, id="email-with-space"),
        pytest.param({"email": "bjørn@example.org"}, id="email-non-ascii"),
        pytest.param({"valid_days": 0}, id="zero-days"),
        pytest.param({"valid_days": -1}, id="negative-days"),
    ],
)
def test_invalid_requests(authority: CertificateAuthority, arguments: dict[str, object]) -> None:
    values: dict[str, object] = {"common_name": "alice", "email": "alice@example.org"}
    values.update(arguments)
    with pytest.raises(CertificateError) as error:
        issue_client_certificate(authority, **values)  # type: ignore[arg-type]
    assert error.value.code == ErrorCode.INVALID_REQUEST


# --- CSR signing ----------------------------------------------------------------------------------


def _csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    *,
    encoding: serialization.Encoding = serialization.Encoding.PEM,
) -> bytes:
    """A request that asks for far more than it gets: another name, admin's e-mail, CA powers."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin")]))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.RFC822Name("admin@example.org"), x509.DNSName("example.org")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(encoding)


def test_sign_csr_ignores_requested_subject_and_extensions(
    authority: CertificateAuthority,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = sign_csr(authority, _csr(key), common_name="alice", email="alice@example.org", now=NOW)
    assert cert.public_key() == key.public_key()
    assert cert.subject.rfc4514_string() == "CN=alice"
    names = _ext(cert, x509.SubjectAlternativeName).value
    assert list(names) == [x509.RFC822Name("alice@example.org")]
    assert _ext(cert, x509.BasicConstraints).value.ca is False
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ClientCAVerifier(_pem(authority.cert)).verify(cert, now=NOW)


def test_sign_csr_without_email_adds_no_san(authority: CertificateAuthority) -> None:
    cert = sign_csr(authority, _csr(), common_name="alice", email=None, now=NOW)
    with pytest.raises(x509.ExtensionNotFound):
        _ext(cert, x509.SubjectAlternativeName)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: _csr(encoding=serialization.Encoding.DER), id="der"),
        pytest.param(
            lambda: _csr().replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"),
            id="new-certificate-request-label",
        ),
        pytest.param(lambda: b"\n" + _csr() + b"\n", id="surrounding-whitespace"),
    ],
)
def test_sign_csr_accepts(authority: CertificateAuthority, make: Callable[[], bytes]) -> None:
    request = make()
    cert = sign_csr(authority, request, common_name="alice", email=None, now=NOW)
    asked = (
        x509.load_der_x509_csr(request)
        if not request.strip().startswith(b"-----")
        else x509.load_pem_x509_csr(
            request.strip().replace(b"NEW CERTIFICATE REQUEST", b"CERTIFICATE REQUEST")
        )
    )
    assert cert.public_key() == asked.public_key()
    assert cert.subject.rfc4514_string() == "CN=alice"
    assert ClientCAVerifier(_pem(authority.cert)).verify(cert, now=NOW) == [cert, authority.cert]


def _tampered_csr() -> bytes:
    der = bytearray(_csr(encoding=serialization.Encoding.DER))
    der[-1] ^= 0x01  # last byte of the ECDSA signature's s
    return bytes(der)


def _csr_with_foreign_key() -> bytes:
    """Claims a victim's public key, signed with the attacker's key (no proof of possession)."""
    victim = ec.generate_private_key(ec.SECP256R1())
    attacker = ec.generate_private_key(ec.SECP256R1())
    mine = _csr(attacker, encoding=serialization.Encoding.DER)
    theirs = victim.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ours = attacker.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert len(theirs) == len(ours)
    return mine.replace(ours, theirs)


BAD_CSRS = [
    pytest.param(_tampered_csr, ErrorCode.BAD_CSR, id="bad-signature"),
    pytest.param(_csr_with_foreign_key, ErrorCode.BAD_CSR, id="someone-elses-key"),
    pytest.param(
        lambda: _csr(rsa.generate_private_key(65537, 1024)),  # noqa: S505 (the point)
        ErrorCode.WEAK_KEY,
        id="rsa1024",
    ),
    pytest.param(
        lambda: _csr(ec.generate_private_key(ec.SECP256K1())), ErrorCode.WEAK_KEY, id="secp256k1"
    ),
    pytest.param(lambda: _csr() + _csr(), ErrorCode.BAD_CSR, id="two-requests"),
    pytest.param(lambda: _pem(init_ca().cert), ErrorCode.BAD_CSR, id="a-certificate-instead"),
    pytest.param(lambda: b"junk", ErrorCode.BAD_CSR, id="junk"),
    pytest.param(lambda: b"", ErrorCode.BAD_CSR, id="empty"),
    pytest.param(lambda: _csr() + b"junk", ErrorCode.BAD_CSR, id="trailing-text"),
    pytest.param(
        lambda: _csr(encoding=serialization.Encoding.DER) + b"\x00",
        ErrorCode.BAD_CSR,
        id="der-trailing-byte",
    ),
    pytest.param(lambda: _csr() + b" " * 70_000, ErrorCode.BAD_CSR, id="too-large"),
]


@pytest.mark.parametrize(("make", "code"), BAD_CSRS)
def test_sign_csr_refuses(
    authority: CertificateAuthority, make: Callable[[], bytes], code: str
) -> None:
    with pytest.raises(CertificateError) as error:
        sign_csr(authority, make(), common_name="alice", email=None, now=NOW)
    assert error.value.code == code
    assert error.value.message


# --- PKCS#12 --------------------------------------------------------------------------------------


def test_pkcs12_round_trip(authority: CertificateAuthority, tmp_path: Path) -> None:
    cert, key = issue_client_certificate(authority, common_name="alice", email=None)
    assert key is not None
    data = to_pkcs12(cert, key, password=b"test", friendly_name=b"alice")
    loaded = pkcs12.load_pkcs12(data, b"test")
    assert loaded.cert is not None
    assert loaded.cert.certificate == cert
    assert loaded.cert.friendly_name == b"alice"
    assert loaded.key is not None and loaded.key.public_key() == key.public_key()

    path = tmp_path / "alice.p12"
    path.write_bytes(data)
    result = subprocess.run(
        ["openssl", "pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:test"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "PBES2, PBKDF2, AES-256-CBC, Iteration 50000, PRF hmacWithSHA256" in result.stderr
    assert "MAC: sha256" in result.stderr  # cryptography fixes the MAC's own rounds at 2048
    pem = result.stdout[result.stdout.index("-----BEGIN CERTIFICATE-----") :]
    assert load_certificate(pem.encode()) == cert


def test_pkcs12_with_chain(authority: CertificateAuthority) -> None:
    cert, key = issue_client_certificate(authority, common_name="alice", email=None)
    assert key is not None
    data = to_pkcs12(cert, key, password=b"pw", friendly_name=b"a", chain=[authority.cert])
    assert [c.certificate for c in pkcs12.load_pkcs12(data, b"pw").additional_certs] == [
        authority.cert
    ]


def test_pkcs12_needs_a_password(authority: CertificateAuthority) -> None:
    cert, key = issue_client_certificate(authority, common_name="alice", email=None)
    assert key is not None
    with pytest.raises(CertificateError) as error:
        to_pkcs12(cert, key, password=b"", friendly_name=b"alice")
    assert error.value.code == ErrorCode.INVALID_REQUEST


# --- server certificates --------------------------------------------------------------------------


def test_server_certificate_for_localhost(authority: CertificateAuthority) -> None:
    cert, key = issue_server_certificate(
        authority, hostnames=["localhost", "Keystile.test"], now=NOW
    )
    assert cert.public_key() == key.public_key()
    names = _ext(cert, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "keystile.test"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert list(_ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.subject.rfc4514_string() == "CN=localhost"
    store = Store([authority.cert])
    for subject in (
        x509.DNSName("localhost"),
        x509.DNSName("keystile.test"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ):
        verifier = PolicyBuilder().store(store).time(NOW).build_server_verifier(subject)
        assert verifier.verify(cert, []) == [cert, authority.cert]


def test_server_certificate_ip_literal(authority: CertificateAuthority) -> None:
    cert, _ = issue_server_certificate(authority, hostnames=["192.0.2.7"], now=NOW)
    names = _ext(cert, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.7")]
    assert names.get_values_for_type(x509.DNSName) == []


def test_server_certificate_is_not_a_client_certificate(authority: CertificateAuthority) -> None:
    cert, _ = issue_server_certificate(authority, hostnames=["localhost"], now=NOW)
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(_pem(authority.cert)).verify(cert, now=NOW)
    assert error.value.code == ErrorCode.NO_CLIENT_AUTH_EKU


@pytest.mark.parametrize(
    "hostnames",
    [
        pytest.param([], id="none"),
        pytest.param(["-bad.example"], id="leading-hyphen"),
        pytest.param(["a..b"], id="empty-label"),
        pytest.param(["exa mple.org"], id="space"),
        pytest.param(["bücher.example"], id="u-label"),
        pytest.param(["x" * 64 + ".example"], id="label-over-63"),
    ],
)
def test_server_certificate_bad_hostnames(
    authority: CertificateAuthority, hostnames: list[str]
) -> None:
    with pytest.raises(CertificateError) as error:
        issue_server_certificate(authority, hostnames=hostnames)
    assert error.value.code == ErrorCode.INVALID_REQUEST


# --- CRLs -----------------------------------------------------------------------------------------


def test_crl_round_trip(authority: CertificateAuthority) -> None:
    kept, _ = issue_client_certificate(authority, common_name="kept", email=None, now=NOW)
    gone, _ = issue_client_certificate(authority, common_name="gone", email=None, now=NOW)
    crl = build_crl(authority, [(gone.serial_number, NOW - DAY)], now=NOW)

    pem = crl.public_bytes(serialization.Encoding.PEM)
    loaded = x509.load_pem_x509_crl(pem)
    assert loaded.is_signature_valid(authority.key.public_key())
    assert loaded.issuer == authority.cert.subject
    assert loaded.last_update_utc == NOW
    assert loaded.next_update_utc == NOW + 7 * DAY
    assert loaded.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == int(
        NOW.timestamp()
    )
    aki = loaded.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == _ext(authority.cert, x509.SubjectKeyIdentifier).value.digest
    entry = loaded.get_revoked_certificate_by_serial_number(gone.serial_number)
    assert entry is not None and entry.revocation_date_utc == NOW - DAY
    assert loaded.get_revoked_certificate_by_serial_number(kept.serial_number) is None

    verifier = ClientCAVerifier(_pem(authority.cert), [pem])
    assert verifier.verify(kept, now=NOW)[0] == kept
    with pytest.raises(CertificateError) as error:
        verifier.verify(gone, now=NOW)
    assert error.value.code == ErrorCode.REVOKED
    with pytest.raises(CertificateError) as error:
        verifier.verify(kept, now=NOW + 8 * DAY)
    assert error.value.code == ErrorCode.CRL_STALE


def test_openssl_accepts_the_crl(authority: CertificateAuthority, tmp_path: Path) -> None:
    gone, _ = issue_client_certificate(authority, common_name="gone", email=None)
    now = dt.datetime.now(dt.UTC)
    crl = build_crl(authority, [(gone.serial_number, now)], now=now, crl_number=7)
    (tmp_path / "ca.crt").write_bytes(_pem(authority.cert))
    (tmp_path / "gone.crt").write_bytes(_pem(gone))
    (tmp_path / "crl.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        ["openssl", "verify", "-crl_check", "-CAfile", "ca.crt", "-CRLfile", "crl.pem", "gone.crt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "certificate revoked" in result.stdout + result.stderr

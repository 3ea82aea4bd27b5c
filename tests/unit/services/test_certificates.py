"""app.services.certificates: parsing, pins, Keystile's policy, chains and CRLs (threat model A.6,
B.7-B.10). Every refusal is asserted by its stable code."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import random
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID, ObjectIdentifier

from app.services.certificates import (
    MAX_INPUT_BYTES,
    UPN_OID,
    CertificateError,
    ClientCAVerifier,
    ErrorCode,
    check_ca_mode_policy,
    check_leaf_policy,
    check_public_key_strength,
    describe,
    load_certificate,
    pem_blocks,
    spki_sha256,
)
from tests.support.pki import GOOD_EMAIL, GOOD_UPN, Identity, Pki, make_pki

DAY = dt.timedelta(days=1)


def _code(error: pytest.ExceptionInfo[CertificateError]) -> str:
    assert error.value.message and "Traceback" not in error.value.message
    return error.value.code


def _ca_signed(
    pki: Pki,
    *,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    key: ec.EllipticCurvePrivateKey | None = None,
    serial: int | None = None,
) -> x509.Certificate:
    """A certificate issued by the test CA with exactly the given extensions."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")]))
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(pki.now - DAY)
        .not_valid_after(pki.now + DAY)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(pki.ca.key, hashes.SHA256())


def _negative_serial(pki: Pki) -> bytes:
    """`good` in DER with the top bit of its serial set, which makes the INTEGER negative."""
    der = bytearray(pki.good.der)
    serial = pki.good.cert.serial_number
    encoded = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    der[der.index(bytes([0x02, len(encoded)]) + encoded) + 2] |= 0x80
    return bytes(der)


# --- load_certificate -----------------------------------------------------------------------------


def _pem_lines(pem: bytes) -> list[bytes]:
    return pem.strip().splitlines()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.good.pem, id="pem"),
        pytest.param(lambda p: p.good.der, id="der"),
        pytest.param(lambda p: p.good.pem.replace(b"\n", b"\r\n"), id="pem-crlf"),
        pytest.param(lambda p: b"\n  " + p.good.pem + b"\n\n", id="pem-surrounding-whitespace"),
        pytest.param(lambda p: b"".join(_pem_lines(p.good.pem)), id="pem-one-line"),
        pytest.param(lambda p: b" ".join(_pem_lines(p.good.pem)), id="pem-apache-spaces"),
        pytest.param(lambda p: bytearray(p.good.der), id="bytearray"),
    ],
)
def test_load_certificate_accepts(pki: Pki, make: Callable[[Pki], bytes]) -> None:
    assert load_certificate(make(pki)) == pki.good.cert


def _csr(pki: Pki) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(pki.good.cert.subject)
        .sign(pki.good.key, hashes.SHA256())
    )


def _bad_extension_cert(pki: Pki) -> bytes:
    # basicConstraints whose value is not a BasicConstraints SEQUENCE
    broken = x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x04\x01\x00")
    return _ca_signed(pki, extensions=[(broken, True)]).public_bytes(serialization.Encoding.DER)


def _zero_serial(pki: Pki) -> bytes:
    der = _ca_signed(pki, serial=1).public_bytes(serialization.Encoding.DER)
    index = der.index(b"\x02\x01\x01")  # the first INTEGER 1 is the serial (after the version)
    return der[:index] + b"\x02\x01\x00" + der[index + 3 :]


GARBAGE = [
    pytest.param(lambda p: b"", ErrorCode.NOT_A_CERTIFICATE, id="empty"),
    pytest.param(lambda p: b" \r\n\t", ErrorCode.NOT_A_CERTIFICATE, id="whitespace"),
    pytest.param(lambda p: "-----BEGIN", ErrorCode.NOT_A_CERTIFICATE, id="str-not-bytes"),
    pytest.param(
        lambda p: _csr(p).public_bytes(serialization.Encoding.PEM),
        ErrorCode.NOT_A_CERTIFICATE,
        id="csr-pem",
    ),
    pytest.param(
        lambda p: _csr(p).public_bytes(serialization.Encoding.DER),
        ErrorCode.NOT_A_CERTIFICATE,
        id="csr-der",
    ),
    pytest.param(lambda p: p.good.key_path.read_bytes(), ErrorCode.NOT_A_CERTIFICATE, id="key"),
    pytest.param(
        lambda p: p.good.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        ErrorCode.NOT_A_CERTIFICATE,
        id="public-key",
    ),
    pytest.param(lambda p: p.crl.pem, ErrorCode.NOT_A_CERTIFICATE, id="crl"),
    pytest.param(
        lambda p: p.good.pem.replace(b" CERTIFICATE-----", b" TRUSTED CERTIFICATE-----"),
        ErrorCode.NOT_A_CERTIFICATE,
        id="openssl-trusted-certificate",
    ),
    pytest.param(
        lambda p: p.good.pem + p.ca.pem, ErrorCode.MULTIPLE_CERTIFICATES, id="chain-not-leaf"
    ),
    pytest.param(
        lambda p: p.good.pem + p.good.key_path.read_bytes(),
        ErrorCode.MULTIPLE_CERTIFICATES,
        id="cert-and-key",
    ),
    pytest.param(lambda p: b"hello, world", ErrorCode.MALFORMED, id="junk"),
    pytest.param(lambda p: base64.b64encode(p.good.der), ErrorCode.MALFORMED, id="bare-base64"),
    pytest.param(
        lambda p: b"Subject: CN=alice\n" + p.good.pem, ErrorCode.MALFORMED, id="text-before"
    ),
    pytest.param(lambda p: p.good.pem + b"junk", ErrorCode.MALFORMED, id="text-after"),
    pytest.param(
        lambda p: p.good.pem.replace(b"\n", b"\n!", 3), ErrorCode.MALFORMED, id="bad-base64"
    ),
    pytest.param(
        lambda p: p.good.pem.replace(b"-----END CERTIFICATE-----", b""),
        ErrorCode.MALFORMED,
        id="no-end-line",
    ),
    pytest.param(
        lambda p: p.good.pem.replace(b"END CERTIFICATE", b"END X509 CRL"),
        ErrorCode.MALFORMED,
        id="mismatched-end",
    ),
    pytest.param(
        lambda p: b"-----BEGIN certificate-----\nAAAA\n-----END certificate-----\n",
        ErrorCode.MALFORMED,
        id="lower-case-label",
    ),
    pytest.param(lambda p: p.good.der + b"\x00", ErrorCode.MALFORMED, id="der-trailing-byte"),
    pytest.param(lambda p: p.good.der + b"\n", ErrorCode.MALFORMED, id="der-trailing-newline"),
    pytest.param(lambda p: p.good.der[:-1], ErrorCode.MALFORMED, id="der-truncated"),
    pytest.param(
        lambda p: (
            b"-----BEGIN CERTIFICATE-----\n"
            + base64.encodebytes(p.good.der + b"\x00")
            + b"-----END CERTIFICATE-----\n"
        ),
        ErrorCode.MALFORMED,
        id="pem-with-trailing-der-byte",
    ),
    pytest.param(lambda p: b"\x30\x03\x02\x01\x01", ErrorCode.MALFORMED, id="der-not-a-cert"),
    pytest.param(_negative_serial, ErrorCode.MALFORMED, id="negative-serial"),
    pytest.param(_zero_serial, ErrorCode.MALFORMED, id="zero-serial"),
    pytest.param(_bad_extension_cert, ErrorCode.MALFORMED, id="undecodable-extension"),
    pytest.param(
        lambda p: p.good.pem + b" " * (MAX_INPUT_BYTES - len(p.good.pem) + 1),
        ErrorCode.TOO_LARGE,
        id="over-64-KiB",
    ),
    pytest.param(
        lambda p: b"-----BEGIN CERTIFICATE-----\n" + b"A" * 70_000,
        ErrorCode.TOO_LARGE,
        id="huge-header",
    ),
]


@pytest.mark.parametrize(("make", "code"), GARBAGE)
def test_load_certificate_refuses(pki: Pki, make: Callable[[Pki], bytes], code: str) -> None:
    with pytest.raises(CertificateError) as error:
        load_certificate(make(pki))
    assert _code(error) == code


def test_load_certificate_key_message_warns_not_to_share(pki: Pki) -> None:
    with pytest.raises(CertificateError, match="Never share your private key"):
        load_certificate(pki.good.key_path.read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param((b"-----BEGIN A-----" * 4000)[:MAX_INPUT_BYTES], id="many-begin-lines"),
        pytest.param(b"-----BEGIN CERTIFICATE-----" + b"-" * 65_000, id="dashes"),
        pytest.param(b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 65_000, id="der-huge-length"),
    ],
)
def test_pathological_input_is_refused_quickly(data: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(CertificateError):
        load_certificate(data)
    assert time.perf_counter() - start < 0.1


def test_mutated_der_never_raises_anything_else(pki: Pki) -> None:
    """Threat model A.6: whatever the bytes, the parser answers with a CertificateError or a
    certificate, never another exception (which would be a 500)."""
    rng = random.Random(5280)
    original = pki.good.der
    for _ in range(400):
        mutated = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        candidates = [bytes(mutated), original[: rng.randrange(len(original))]]
        for candidate in candidates:
            try:
                cert = load_certificate(candidate)
            except CertificateError:
                continue
            describe(cert)  # what loaded must also describe without raising
            with contextlib.suppress(CertificateError):
                check_leaf_policy(cert, now=pki.now)


def test_pem_blocks_returns_labels_and_der(pki: Pki) -> None:
    assert pem_blocks(pki.good.pem + pki.ca.pem) == [
        ("CERTIFICATE", pki.good.der),
        ("CERTIFICATE", pki.ca.cert.public_bytes(serialization.Encoding.DER)),
    ]


# --- the pin and the facts ------------------------------------------------------------------------


def test_pin_is_stable_across_a_renewed_certificate(pki: Pki) -> None:
    """Threat model B.7: a renewed certificate for the same key keeps its pin."""
    first, renewed = pki.self_signed.cert, pki.renewed_self_signed.cert
    assert first.serial_number != renewed.serial_number
    assert first.not_valid_before_utc != renewed.not_valid_before_utc
    assert spki_sha256(first) == spki_sha256(renewed)
    assert spki_sha256(first) != spki_sha256(pki.good.cert)
    assert re.fullmatch(r"[0-9a-f]{64}", spki_sha256(first))


@pytest.mark.parametrize("name", ["good", "self_signed", "rsa1024"])
def test_pin_matches_openssl(pki: Pki, name: str) -> None:
    identity: Identity = getattr(pki, name)
    public_key = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(identity.cert_path)],
        check=True,
        capture_output=True,
    ).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=public_key,
        check=True,
        capture_output=True,
    ).stdout
    assert spki_sha256(identity.cert) == hashlib.sha256(spki).hexdigest()


def test_describe_ca_issued(pki: Pki) -> None:
    facts = describe(pki.good.cert)
    assert facts.subject == "CN=alice,O=Keystile Tests"
    assert facts.issuer == "CN=Keystile Test CA,O=Keystile Tests"
    assert facts.serial == format(pki.good.cert.serial_number, "X")
    assert facts.serial == facts.serial.upper() and not facts.serial.startswith("0X")
    assert facts.san_emails == (GOOD_EMAIL,)
    assert facts.san_upns == (GOOD_UPN,)
    assert facts.key_description == "EC P-256"
    assert facts.self_signed is False
    assert facts.not_before == pki.now - DAY and facts.not_before.tzinfo == dt.UTC
    assert facts.not_after == pki.now + 365 * DAY
    assert facts.der == pki.good.der
    assert hashlib.sha256(facts.spki_der).hexdigest() == facts.spki_sha256
    assert facts.spki_sha256 == spki_sha256(pki.good.cert)


def test_describe_self_signed(pki: Pki) -> None:
    facts = describe(pki.self_signed.cert)
    assert facts.self_signed is True
    assert facts.subject == facts.issuer == "CN=alice-self,O=Keystile Tests"
    assert facts.san_emails == () and facts.san_upns == ()


def test_describe_self_issued_but_not_self_signed(pki: Pki) -> None:
    """Issuer == subject is not enough: the signature must verify with the certificate's key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = pki.ca.cert.subject
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(pki.now - DAY)
        .not_valid_after(pki.now + DAY)
        .sign(pki.ca.key, hashes.SHA256())
    )
    assert describe(forged).self_signed is False


def test_describe_ignores_upn_that_is_not_a_utf8_string(pki: Pki) -> None:
    upn = "bjørn@example.org".encode()
    sans = x509.SubjectAlternativeName(
        [
            x509.OtherName(UPN_OID, b"\x16\x05a@b.c"),  # IA5String, not UTF8String
            x509.OtherName(ObjectIdentifier("1.2.3.4"), b"\x0c\x05x@y.z"),  # another OID
            x509.OtherName(UPN_OID, b"\x0c" + bytes([len(upn)]) + upn),
        ]
    )
    cert = _ca_signed(pki, extensions=[(sans, False)])
    assert describe(cert).san_upns == ("bjørn@example.org",)


@pytest.mark.parametrize(
    ("make_key", "description", "strong"),
    [
        pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), "EC P-256", True, id="p256"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), "EC P-384", True, id="p384"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP521R1()), "EC P-521", False, id="p521"),
        pytest.param(
            lambda: ec.generate_private_key(ec.SECP256K1()), "EC secp256k1", False, id="k256"
        ),
        pytest.param(ed25519.Ed25519PrivateKey.generate, "Ed25519", True, id="ed25519"),
        pytest.param(ed448.Ed448PrivateKey.generate, "Ed448", False, id="ed448"),
        pytest.param(lambda: _rsa(2048), "RSA 2048", True, id="rsa2048"),
        pytest.param(lambda: _rsa(1024), "RSA 1024", False, id="rsa1024"),
        pytest.param(lambda: dsa.generate_private_key(1024), "DSA 1024", False, id="dsa"),  # noqa: S505
    ],
)
def test_key_strength(
    pki: Pki, make_key: Callable[[], object], description: str, strong: bool
) -> None:
    key = make_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(pki.self_signed.cert.subject)
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(9)
        .not_valid_before(pki.now - DAY)
        .not_valid_after(pki.now + DAY)
        .sign(pki.ca.key, hashes.SHA256())
    )
    assert describe(cert).key_description == description
    if strong:
        check_leaf_policy(cert, now=pki.now)
    else:
        with pytest.raises(CertificateError) as error:
            check_leaf_policy(cert, now=pki.now)
        assert _code(error) == ErrorCode.WEAK_KEY
        assert description in error.value.message


@pytest.mark.parametrize("exponent", [3, 65537])
def test_rsa_exponents(exponent: int) -> None:
    check_public_key_strength(rsa.generate_private_key(exponent, 2048).public_key())


_RSA: dict[int, rsa.RSAPrivateKey] = {}


def _rsa(bits: int) -> rsa.RSAPrivateKey:
    if bits not in _RSA:
        _RSA[bits] = rsa.generate_private_key(65537, bits)
    return _RSA[bits]


# --- Keystile's leaf policy (both modes) ----------------------------------------------------------

LEAF_POLICY = [
    pytest.param("good", None, id="ca-issued"),
    pytest.param("self_signed", None, id="self-signed-without-eku"),
    pytest.param("renewed_self_signed", None, id="renewed-self-signed"),
    pytest.param("no_eku", None, id="pinned-needs-no-eku"),
    pytest.param("server_eku", None, id="pinned-ignores-eku"),
    pytest.param("expired", ErrorCode.EXPIRED, id="expired"),
    pytest.param("not_yet_valid", ErrorCode.NOT_YET_VALID, id="not-yet-valid"),
    pytest.param("sha1", ErrorCode.SHA1_SIGNATURE, id="sha1"),
    pytest.param("rsa1024", ErrorCode.WEAK_KEY, id="rsa1024"),
    pytest.param("leaf_ca", ErrorCode.LEAF_IS_CA, id="leaf-is-ca"),
]


@pytest.mark.parametrize(("name", "code"), LEAF_POLICY)
def test_leaf_policy(pki: Pki, name: str, code: str | None) -> None:
    cert = getattr(pki, name).cert
    if code is None:
        check_leaf_policy(cert, now=pki.now)
        return
    with pytest.raises(CertificateError) as error:
        check_leaf_policy(cert, now=pki.now)
    assert _code(error) == code


def test_expiry_message_names_the_day(pki: Pki) -> None:
    with pytest.raises(CertificateError) as error:
        check_leaf_policy(pki.expired.cert, now=pki.now)
    day = (pki.now - DAY).strftime("%Y-%m-%d")
    assert error.value.message == f"This certificate expired on {day}."


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        pytest.param(dt.timedelta(0), None, id="at-not-after"),
        pytest.param(dt.timedelta(seconds=1), ErrorCode.EXPIRED, id="one-second-after"),
    ],
)
def test_validity_bounds_are_inclusive(pki: Pki, offset: dt.timedelta, code: str | None) -> None:
    now = pki.good.cert.not_valid_after_utc + offset
    if code is None:
        check_leaf_policy(pki.good.cert, now=now)
    else:
        with pytest.raises(CertificateError, match="expired"):
            check_leaf_policy(pki.good.cert, now=now)


def test_naive_time_is_a_programming_error(pki: Pki) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_leaf_policy(pki.good.cert, now=pki.now.replace(tzinfo=None))


# --- CA mode extras -------------------------------------------------------------------------------


def _key_usage(*, digital_signature: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=not digital_signature,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


CLIENT_AUTH = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])

CA_MODE_POLICY = [
    pytest.param([(CLIENT_AUTH, False)], None, id="client-auth"),
    pytest.param(
        [(CLIENT_AUTH, False), (_key_usage(digital_signature=True), True)],
        None,
        id="client-auth-digital-signature",
    ),
    pytest.param([], ErrorCode.NO_CLIENT_AUTH_EKU, id="no-eku"),
    pytest.param(
        [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)],
        ErrorCode.NO_CLIENT_AUTH_EKU,
        id="server-auth-only",
    ),
    pytest.param(
        [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]), False)],
        ErrorCode.NO_CLIENT_AUTH_EKU,
        id="any-eku-only",
    ),
    pytest.param(
        [(CLIENT_AUTH, False), (_key_usage(digital_signature=False), True)],
        ErrorCode.BAD_KEY_USAGE,
        id="key-usage-without-digital-signature",
    ),
]


@pytest.mark.parametrize(("extensions", "code"), CA_MODE_POLICY)
def test_ca_mode_policy(
    pki: Pki, extensions: list[tuple[x509.ExtensionType, bool]], code: str | None
) -> None:
    cert = _ca_signed(pki, extensions=extensions)
    if code is None:
        check_ca_mode_policy(cert)
        return
    with pytest.raises(CertificateError) as error:
        check_ca_mode_policy(cert)
    assert _code(error) == code


# --- ClientCAVerifier -----------------------------------------------------------------------------

VERIFY = [
    # (bundle, CRLs, leaf, intermediates) -> expected code (None: accepted)
    pytest.param(["ca"], [], "good", [], None, id="good"),
    pytest.param(["ca"], ["crl"], "good", [], None, id="good-with-crl"),
    pytest.param(["ca", "other_ca"], [], "good", [], None, id="good-two-roots"),
    pytest.param(["ca"], [], "chained", ["intermediate"], None, id="chain-via-intermediate"),
    pytest.param(
        ["ca"],
        ["crl", "intermediate_crl"],
        "chained",
        ["intermediate"],
        None,
        id="chain-with-crls",
    ),
    pytest.param(["ca"], [], "revoked", [], None, id="revoked-unchecked-without-crls"),
    pytest.param(["ca"], [], "other_ca_client", [], ErrorCode.UNTRUSTED_ISSUER, id="other-ca"),
    pytest.param(
        ["ca"], [], "other_ca_client", ["other_ca"], ErrorCode.UNTRUSTED_ISSUER, id="other-ca-sent"
    ),
    pytest.param(["ca"], [], "self_signed", [], ErrorCode.UNTRUSTED_ISSUER, id="self-signed"),
    pytest.param(["ca"], [], "chained", [], ErrorCode.UNTRUSTED_ISSUER, id="intermediate-missing"),
    pytest.param(["other_ca"], [], "good", [], ErrorCode.UNTRUSTED_ISSUER, id="wrong-bundle"),
    pytest.param(["ca"], [], "expired", [], ErrorCode.EXPIRED, id="expired"),
    pytest.param(["ca"], [], "not_yet_valid", [], ErrorCode.NOT_YET_VALID, id="not-yet-valid"),
    pytest.param(["ca"], [], "sha1", [], ErrorCode.SHA1_SIGNATURE, id="sha1"),
    pytest.param(["ca"], [], "rsa1024", [], ErrorCode.WEAK_KEY, id="weak-rsa"),
    pytest.param(["ca"], [], "leaf_ca", [], ErrorCode.LEAF_IS_CA, id="leaf-is-ca"),
    pytest.param(["ca"], [], "intermediate", [], ErrorCode.LEAF_IS_CA, id="intermediate-as-leaf"),
    pytest.param(["ca"], [], "ca", [], ErrorCode.LEAF_IS_CA, id="root-as-leaf"),
    pytest.param(["ca"], [], "no_eku", [], ErrorCode.NO_CLIENT_AUTH_EKU, id="no-eku"),
    pytest.param(["ca"], [], "server_eku", [], ErrorCode.NO_CLIENT_AUTH_EKU, id="server-eku"),
    pytest.param(["ca"], ["crl"], "revoked", [], ErrorCode.REVOKED, id="revoked"),
    pytest.param(["ca"], ["stale_crl"], "good", [], ErrorCode.CRL_STALE, id="stale-crl"),
    pytest.param(
        ["ca"], ["wrong_key_crl"], "good", [], ErrorCode.CRL_BAD_SIGNATURE, id="wrong-key-crl"
    ),
    pytest.param(
        ["ca"],
        ["crl", "wrong_key_crl"],
        "good",
        [],
        ErrorCode.CRL_BAD_SIGNATURE,
        id="good-crl-does-not-excuse-forged-one",
    ),
    pytest.param(["ca"], ["other_ca_crl"], "good", [], ErrorCode.CRL_MISSING, id="crl-for-other"),
    pytest.param(
        ["ca", "other_ca"],
        ["other_ca_crl"],
        "good",
        [],
        ErrorCode.CRL_MISSING,
        id="crl-for-one-root-only",
    ),
    pytest.param(
        ["ca", "other_ca"], ["other_ca_crl"], "other_ca_client", [], None, id="other-root-covered"
    ),
    pytest.param(
        ["ca"],
        ["crl"],
        "chained",
        ["intermediate"],
        ErrorCode.CRL_MISSING,
        id="no-crl-for-intermediate",
    ),
    pytest.param(
        ["ca"],
        ["intermediate_crl"],
        "chained",
        ["intermediate"],
        ErrorCode.CRL_MISSING,
        id="no-crl-for-root",
    ),
]


def _pem(pki: Pki, name: str) -> bytes:
    value = getattr(pki, name)
    return value.pem  # type: ignore[no-any-return]


@pytest.mark.parametrize(("bundle", "crls", "leaf", "intermediates", "code"), VERIFY)
def test_verify(
    pki: Pki,
    bundle: list[str],
    crls: list[str],
    leaf: str,
    intermediates: list[str],
    code: str | None,
) -> None:
    verifier = ClientCAVerifier(
        b"".join(_pem(pki, name) for name in bundle), [_pem(pki, name) for name in crls]
    )
    leaf_cert = getattr(pki, leaf).cert
    chain_hint = [getattr(pki, name).cert for name in intermediates]
    if code is None:
        chain = verifier.verify(leaf_cert, chain_hint, now=pki.now)
        assert chain[0] == leaf_cert
        assert chain[-1] in verifier.roots
        assert chain[1:-1] == chain_hint
        return
    with pytest.raises(CertificateError) as error:
        verifier.verify(leaf_cert, chain_hint, now=pki.now)
    assert _code(error) == code


def test_identity_comes_from_the_verified_leaf(pki: Pki) -> None:
    """Threat model B.10: the SAN of the verified leaf, not a DN pattern."""
    chain = ClientCAVerifier(pki.ca.pem).verify(pki.good.cert, now=pki.now)
    assert describe(chain[0]).san_emails == (GOOD_EMAIL,)
    assert describe(chain[0]).san_upns == (GOOD_UPN,)


def test_no_system_roots(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """Threat model B.8: even a root the system trusts does not count, only the bundle."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.other_ca.cert_path))
    monkeypatch.setenv("SSL_CERT_DIR", str(pki.directory))
    verifier = ClientCAVerifier(pki.ca.pem)
    with pytest.raises(CertificateError) as error:
        verifier.verify(pki.other_ca_client.cert, now=pki.now)
    assert _code(error) == ErrorCode.UNTRUSTED_ISSUER


def test_a_certificate_chaining_to_nothing_in_the_bundle(pki: Pki) -> None:
    """A leaf whose issuer name matches the bundle's CA but whose signature does not."""
    key = ec.generate_private_key(ec.SECP256R1())
    impostor = _ca_signed(pki, extensions=[(CLIENT_AUTH, False)], key=key)
    forged = (
        x509.CertificateBuilder()
        .subject_name(impostor.subject)
        .issuer_name(pki.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(11)
        .not_valid_before(pki.now - DAY)
        .not_valid_after(pki.now + DAY)
        .add_extension(CLIENT_AUTH, critical=False)
        .sign(pki.other_ca.key, hashes.SHA256())
    )
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(pki.ca.pem).verify(forged, now=pki.now)
    assert _code(error) == ErrorCode.UNTRUSTED_ISSUER


def test_crl_goes_stale_at_next_update(pki: Pki) -> None:
    verifier = ClientCAVerifier(pki.ca.pem, [pki.crl.pem])
    next_update = pki.crl.crl.next_update_utc
    assert next_update is not None
    verifier.verify(pki.good.cert, now=next_update)
    with pytest.raises(CertificateError) as error:
        verifier.verify(pki.good.cert, now=next_update + dt.timedelta(seconds=1))
    assert _code(error) == ErrorCode.CRL_STALE


def test_crl_from_the_future_is_not_used(pki: Pki) -> None:
    future = _crl(pki, this_update=pki.now + DAY)
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(pki.ca.pem, [future]).verify(pki.good.cert, now=pki.now)
    assert _code(error) == ErrorCode.CRL_STALE


def test_newest_crl_wins(pki: Pki) -> None:
    """An older, stale CRL next to a current one is harmless; the current one is used."""
    verifier = ClientCAVerifier(pki.ca.pem, [pki.stale_crl.pem, pki.crl.pem])
    verifier.verify(pki.good.cert, now=pki.now)
    with pytest.raises(CertificateError) as error:
        verifier.verify(pki.revoked.cert, now=pki.now)
    assert _code(error) == ErrorCode.REVOKED
    assert error.value.message.startswith("This certificate was revoked on ")


def test_der_crl_is_accepted(pki: Pki) -> None:
    der = pki.crl.crl.public_bytes(serialization.Encoding.DER)
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(pki.ca.pem, [der]).verify(pki.revoked.cert, now=pki.now)
    assert _code(error) == ErrorCode.REVOKED


def test_revoked_intermediate(pki: Pki) -> None:
    root_crl = _crl(pki, this_update=pki.now, serials=[pki.intermediate.cert.serial_number])
    verifier = ClientCAVerifier(pki.ca.pem, [root_crl, pki.intermediate_crl.pem])
    with pytest.raises(CertificateError) as error:
        verifier.verify(pki.chained.cert, [pki.intermediate.cert], now=pki.now)
    assert _code(error) == ErrorCode.REVOKED
    assert "authority" in error.value.message


def test_user_certs_only_crl_does_not_cover_an_intermediate(pki: Pki) -> None:
    scope = x509.IssuingDistributionPoint(
        full_name=None,
        relative_name=None,
        only_contains_user_certs=True,
        only_contains_ca_certs=False,
        only_some_reasons=None,
        indirect_crl=False,
        only_contains_attribute_certs=False,
    )
    users_only = _crl(pki, this_update=pki.now, extensions=[(scope, True)])
    verifier = ClientCAVerifier(pki.ca.pem, [users_only, pki.intermediate_crl.pem])
    verifier.verify(pki.good.cert, now=pki.now)
    with pytest.raises(CertificateError) as error:
        verifier.verify(pki.chained.cert, [pki.intermediate.cert], now=pki.now)
    assert _code(error) == ErrorCode.CRL_MISSING


def test_expired_ca_is_named_as_the_reason(pki: Pki, tmp_path: Path) -> None:
    old = make_pki(tmp_path, now=pki.now - 3651 * DAY)  # its CA expired yesterday
    leaf = _fresh_leaf_from(old, pki.now)
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(old.ca.pem).verify(leaf, now=pki.now)
    assert _code(error) == ErrorCode.EXPIRED
    assert "certificate authority" in error.value.message


def test_too_many_intermediates(pki: Pki) -> None:
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(pki.ca.pem).verify(
            pki.chained.cert, [pki.intermediate.cert] * 9, now=pki.now
        )
    assert _code(error) == ErrorCode.UNTRUSTED_ISSUER


BAD_BUNDLES = [
    pytest.param(lambda p: b"", id="empty"),
    pytest.param(lambda p: b"junk", id="junk"),
    pytest.param(lambda p: p.ca.pem + p.ca.key_path.read_bytes(), id="with-private-key"),
    pytest.param(lambda p: p.ca.pem + p.good.pem, id="with-a-leaf"),
    pytest.param(lambda p: p.self_signed.pem, id="self-signed-leaf-as-root"),
    pytest.param(lambda p: p.ca.cert.public_bytes(serialization.Encoding.DER), id="der"),
]


@pytest.mark.parametrize("make", BAD_BUNDLES)
def test_bad_ca_bundle(pki: Pki, make: Callable[[Pki], bytes]) -> None:
    """Trust-store confusion (CVE-2023-1664): only CA certificates may be trust anchors."""
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(make(pki))
    assert _code(error) == ErrorCode.BAD_CA_BUNDLE


def _scope(**overrides: object) -> x509.IssuingDistributionPoint:
    values: dict[str, object] = {
        "full_name": None,
        "relative_name": None,
        "only_contains_user_certs": False,
        "only_contains_ca_certs": False,
        "only_some_reasons": None,
        "indirect_crl": False,
        "only_contains_attribute_certs": False,
    }
    values.update(overrides)
    return x509.IssuingDistributionPoint(**values)  # type: ignore[arg-type]


BAD_CRLS = [
    pytest.param(lambda p: b"junk", ErrorCode.CRL_MALFORMED, id="junk"),
    pytest.param(lambda p: p.good.pem, ErrorCode.CRL_MALFORMED, id="a-certificate"),
    pytest.param(lambda p: p.crl.pem + p.crl.pem, ErrorCode.CRL_MALFORMED, id="two-crls"),
    pytest.param(
        lambda p: p.crl.crl.public_bytes(serialization.Encoding.DER) + b"\x00",
        ErrorCode.CRL_MALFORMED,
        id="trailing-byte",
    ),
    pytest.param(
        lambda p: _crl(p, this_update=p.now, extensions=[(x509.DeltaCRLIndicator(1), True)]),
        ErrorCode.CRL_UNSUPPORTED,
        id="delta-crl",
    ),
    pytest.param(
        lambda p: _crl(p, this_update=p.now, extensions=[(_scope(indirect_crl=True), True)]),
        ErrorCode.CRL_UNSUPPORTED,
        id="indirect-crl",
    ),
    pytest.param(
        lambda p: _crl(
            p,
            this_update=p.now,
            extensions=[
                (_scope(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})), True)
            ],
        ),
        ErrorCode.CRL_UNSUPPORTED,
        id="reason-partitioned-crl",
    ),
    pytest.param(
        lambda p: _crl(
            p,
            this_update=p.now,
            extensions=[
                (x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4"), b"\x05\x00"), True)
            ],
        ),
        ErrorCode.CRL_UNSUPPORTED,
        id="unknown-critical-extension",
    ),
]


@pytest.mark.parametrize(("make", "code"), BAD_CRLS)
def test_bad_crl_is_refused_when_configured(
    pki: Pki, make: Callable[[Pki], bytes], code: str
) -> None:
    with pytest.raises(CertificateError) as error:
        ClientCAVerifier(pki.ca.pem, [make(pki)])
    assert _code(error) == code


# --- helpers --------------------------------------------------------------------------------------


def _crl(
    pki: Pki,
    *,
    this_update: dt.datetime,
    serials: Sequence[int] = (),
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.ca.cert.subject)
        .last_update(this_update)
        .next_update(this_update + 7 * DAY)
        .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(this_update)
            .build()
        )
    return builder.sign(pki.ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _fresh_leaf_from(old: Pki, now: dt.datetime) -> x509.Certificate:
    """A leaf valid at `now` issued by `old.ca`, whose own validity has ended by then."""
    ski = old.ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "late")]))
        .issuer_name(old.ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(12)
        .not_valid_before(now - DAY)
        .not_valid_after(now + DAY)
        .add_extension(CLIENT_AUTH, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(old.ca.key, hashes.SHA256())
    )


# --- the chain profile: webpki, with RFC 5280 leeway for private CAs -----------------------------


def _root(
    now: dt.datetime, *, key_usage: x509.KeyUsage | None, bc_critical: bool = True
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Private Root")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - DAY)
        .not_valid_after(now + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=bc_critical)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    return builder.sign(key, hashes.SHA256()), key


def _leaf_of(
    root: x509.Certificate, key: ec.EllipticCurvePrivateKey, now: dt.datetime, *, aki: bool
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
        .issuer_name(root.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(2)
        .not_valid_before(now - DAY)
        .not_valid_after(now + DAY)
        .add_extension(CLIENT_AUTH, critical=False)
    )
    if aki:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
    return builder.sign(key, hashes.SHA256())


def _ca_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.mark.parametrize(
    ("key_usage", "bc_critical", "aki", "code"),
    [
        pytest.param(_ca_usage(cert_sign=True), True, True, None, id="conforming"),
        pytest.param(None, True, True, None, id="ca-without-key-usage"),
        pytest.param(_ca_usage(cert_sign=True), True, False, None, id="leaf-without-aki"),
        pytest.param(
            _ca_usage(cert_sign=False), True, True, ErrorCode.UNTRUSTED_ISSUER, id="no-cert-sign"
        ),
        pytest.param(
            _ca_usage(cert_sign=True),
            False,
            True,
            ErrorCode.UNTRUSTED_ISSUER,
            id="ca-basic-constraints-not-critical",
        ),
    ],
)
def test_chain_profile(
    pki: Pki, key_usage: x509.KeyUsage | None, bc_critical: bool, aki: bool, code: str | None
) -> None:
    root, key = _root(pki.now, key_usage=key_usage, bc_critical=bc_critical)
    verifier = ClientCAVerifier(root.public_bytes(serialization.Encoding.PEM))
    leaf = _leaf_of(root, key, pki.now, aki=aki)
    if code is None:
        assert verifier.verify(leaf, now=pki.now) == [leaf, root]
        return
    with pytest.raises(CertificateError) as error:
        verifier.verify(leaf, now=pki.now)
    assert _code(error) == code


def test_ca_made_with_the_openssl_cli(tmp_path: Path) -> None:
    """Operators often build their CA with plain openssl commands (no keyUsage on the CA)."""

    def openssl(*arguments: str) -> None:
        subprocess.run(["openssl", *arguments], cwd=tmp_path, check=True, capture_output=True)

    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec_key, "-subj", "/CN=Ops CA", "-keyout", "ca.key", "-out", "ca.crt")
    openssl("req", *ec_key, "-subj", "/CN=alice", "-keyout", "a.key", "-out", "a.csr")
    (tmp_path / "ext").write_text(
        "extendedKeyUsage=clientAuth\nsubjectAltName=email:a@example.org\n"
    )
    openssl(
        "x509", "-req", "-in", "a.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "7",
        "-days", "2", "-extfile", "ext", "-out", "a.crt",
    )  # fmt: skip
    verifier = ClientCAVerifier((tmp_path / "ca.crt").read_bytes())
    leaf = load_certificate((tmp_path / "a.crt").read_bytes())
    chain = verifier.verify(leaf, now=dt.datetime.now(dt.UTC))
    assert describe(chain[0]).san_emails == ("a@example.org",)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param([], ErrorCode.LEAF_IS_CA, id="openssl-default-is-a-ca"),
        pytest.param(["-addext", "basicConstraints=critical,CA:FALSE"], None, id="ca-false"),
    ],
)
def test_self_signed_made_with_openssl_req(
    tmp_path: Path, extra: list[str], code: str | None
) -> None:
    """What users get from ``openssl req -x509``: OpenSSL 3's default config marks the
    certificate CA:TRUE, which Keystile refuses in pinned mode too; user docs should show
    ``-addext basicConstraints=critical,CA:FALSE``."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-subj", "/CN=me", "-keyout", "me.key", "-out", "me.crt", *extra],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    cert = load_certificate((tmp_path / "me.crt").read_bytes())
    assert describe(cert).self_signed
    if code is None:
        check_leaf_policy(cert, now=dt.datetime.now(dt.UTC))
        return
    with pytest.raises(CertificateError) as error:
        check_leaf_policy(cert, now=dt.datetime.now(dt.UTC))
    assert _code(error) == code

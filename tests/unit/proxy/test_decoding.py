"""The strict decoders under every adapter: percent-encoding, base64, PEM, DER."""

from __future__ import annotations

import pytest

from app.proxy import ProxyHeaderError
from app.proxy.decoding import b64decode_strict, percent_decode
from app.proxy.der import load_certificate, load_certificates, split_certificates
from app.proxy.pem import certificate_from_pem, certificates_from_pem, read_pem_blocks


def _code(call, *args, **kwargs):
    with pytest.raises(ProxyHeaderError) as refused:
        call(*args, **kwargs)
    return refused.value.code


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ("abc", "abc"),
        ("a%20b%0A", "a b\n"),
        ("a+b", "a+b"),  # not form decoding
        ("%2b%2B", "++"),
        ("", ""),
    ],
)
def test_percent_decode(value, decoded):
    assert percent_decode(value) == decoded


@pytest.mark.parametrize("value", ["%zz", "%4", "%", "a%2", "%FF", "%C3%A9", "a b", "caf\u00e9"])
def test_percent_decode_refuses(value):
    assert _code(percent_decode, value) == "malformed"


@pytest.mark.parametrize(
    ("value", "padding_optional", "decoded"),
    [("QUJD", False, b"ABC"), ("QQ==", False, b"A"), ("QQ", True, b"A"), ("QQ=", True, b"A")],
)
def test_b64decode_strict(value, padding_optional, decoded):
    assert b64decode_strict(value, padding_optional=padding_optional) == decoded


@pytest.mark.parametrize(
    ("value", "padding_optional"),
    [
        ("QQ", False),
        ("Q", True),
        ("QQ==QQ==", False),
        ("QU JD", False),
        ("QUJD\n", False),
        ("QU-D", False),
        ("QU_D", False),
        ("=QUJD", False),
        ("\u00e9\u00e9\u00e9\u00e9", False),
    ],
)
def test_b64decode_strict_refuses(value, padding_optional):
    assert _code(b64decode_strict, value, padding_optional=padding_optional) == "malformed"


def test_pem_blocks_and_whitespace(pki, wire):
    text = "\n  " + wire.pem_text([("CERTIFICATE", pki.leaf_der), ("X509 CRL", b"\x30\x00")])

    blocks = read_pem_blocks(text, max_blocks=5)

    assert [label for label, _ in blocks] == ["CERTIFICATE", "X509 CRL"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("", "malformed", id="empty"),
        pytest.param("MIIB", "malformed", id="no-armour"),
        pytest.param("-----BEGIN CERTIFICATE-----\nQUJD\n", "malformed", id="no-end"),
        pytest.param("-----BEGIN -----\n-----END -----", "malformed", id="empty-label"),
        pytest.param(
            "-----BEGIN certificate-----\nQUJD\n-----END certificate-----",
            "not_a_certificate",
            id="lower-case-label",
        ),
        pytest.param(
            "-----BEGIN " + "A" * 70 + "-----\n-----END " + "A" * 70 + "-----",
            "malformed",
            id="long-label",
        ),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE----",
            "malformed",
            id="short-end-dashes",
        ),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nQUJD\n-----END X509 CERTIFICATE-----",
            "malformed",
            id="mismatched-label",
        ),
        pytest.param(
            "-----BEGIN TRUSTED CERTIFICATE-----\nMAA=\n-----END TRUSTED CERTIFICATE-----",
            "not_a_certificate",
            id="openssl-trusted-certificate",
        ),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----",
            "malformed",
            id="empty-body",
        ),
        pytest.param(
            "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nQUJD\n"
            "-----END CERTIFICATE-----",
            "malformed",
            id="rfc1421-headers",
        ),
    ],
)
def test_certificate_from_pem_refuses(text, code):
    assert _code(certificate_from_pem, text) == code


def test_private_key_block_is_refused_without_being_decoded(pki, wire):
    text = wire.pem_text([("CERTIFICATE", pki.leaf_der)]) + (
        "-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----\n"
    )

    assert _code(certificate_from_pem, text) == "not_a_certificate"
    assert _code(certificates_from_pem, text, max_count=5) == "not_a_certificate"


def test_certificates_from_pem_bounds_the_count(pki, wire):
    text = wire.pem_text([("CERTIFICATE", pki.ca_der)] * 3)

    assert certificates_from_pem(text, max_count=3) == [pki.ca] * 3
    assert _code(certificates_from_pem, text, max_count=2) == "too_large"
    # Where one is expected, a long chain is still refused, not read to the end.
    assert _code(certificate_from_pem, wire.pem_text([("CERTIFICATE", pki.ca_der)] * 50)) in {
        "chain_as_leaf",
        "too_large",
    }


def test_load_certificate_keeps_the_exact_bytes(pki):
    assert load_certificate(pki.leaf_der) == pki.leaf


@pytest.mark.parametrize(
    ("build", "code"),
    [
        pytest.param(lambda p: b"", "malformed", id="empty"),
        pytest.param(lambda p: b"\x30", "malformed", id="one-byte"),
        pytest.param(lambda p: b"\x30\x85\x00\x00\x00\x00\x01", "malformed", id="5-octet-length"),
        pytest.param(lambda p: b"\x30\x81\x05abcde", "malformed", id="non-minimal-length"),
        pytest.param(lambda p: b"\x30\x82\x00\x05abcde", "malformed", id="leading-zero-length"),
        pytest.param(lambda p: p.leaf_der + p.ca_der, "chain_as_leaf", id="two-certificates"),
        pytest.param(lambda p: p.leaf_der + b"\x30", "trailing_data", id="half-a-tlv-after"),
        pytest.param(lambda p: p.leaf_der + b"\x04\x00", "trailing_data", id="octet-after"),
        pytest.param(lambda p: p.csr_der, "not_a_certificate", id="csr"),
        pytest.param(lambda p: p.key_der, "not_a_certificate", id="pkcs8-key"),
        pytest.param(lambda p: p.negative_serial_der, "not_a_certificate", id="negative-serial"),
    ],
)
def test_load_certificate_refuses(build, code, pki):
    assert _code(load_certificate, build(pki)) == code


def test_zero_serial_is_refused(pki):
    data = pki.negative_serial_der
    at = data.index(bytes.fromhex("a003020102020181")) + 7
    zero = data[:at] + b"\x00" + data[at + 1 :]

    assert _code(load_certificate, zero) == "not_a_certificate"


def test_split_certificates(pki):
    assert split_certificates(pki.leaf_der + pki.ca_der, max_count=2) == [
        pki.leaf_der,
        pki.ca_der,
    ]
    assert split_certificates(b"", max_count=2) == []
    assert load_certificates(pki.ca_der * 2, max_count=2) == [pki.ca, pki.ca]
    assert _code(split_certificates, pki.ca_der * 3, max_count=2) == "too_large"
    assert _code(split_certificates, pki.ca_der + b"\x02\x01\x01", max_count=5) == (
        "not_a_certificate"
    )

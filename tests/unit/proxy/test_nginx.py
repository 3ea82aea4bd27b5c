"""nginx: ``$ssl_client_escaped_cert`` and ``$ssl_client_verify`` (threat model A.5, A.6)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.proxy import ProxyHeaderError, get_adapter

CERT = "X-SSL-Client-Cert"
VERIFY = "X-SSL-Client-Verify"


def _escaped(wire, certificate):
    return quote(wire.pem_text([("CERTIFICATE", wire.der(certificate))]), safe="")


@pytest.mark.parametrize(
    "verdict",
    [
        "SUCCESS",
        "FAILED:self-signed certificate",
        "FAILED:unable to verify the first certificate",
        "FAILED:",
        None,
    ],
)
def test_certificate_passes_with_the_verdict_as_information(verdict, pki, wire):
    headers = [(CERT, _escaped(wire, pki.self_signed))]
    if verdict is not None:
        headers.append((VERIFY, verdict))

    forwarded = get_adapter("nginx").extract(headers)

    assert forwarded is not None
    assert forwarded.leaf_der == wire.der(pki.self_signed)
    assert forwarded.proxy_verify == verdict


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(VERIFY, "NONE")], id="none-no-cert"),
        pytest.param([(VERIFY, "SUCCESS")], id="success-without-cert"),
        pytest.param([(CERT, ""), (VERIFY, "SUCCESS")], id="success-with-empty-cert"),
        pytest.param([(VERIFY, "FAILED:self-signed certificate")], id="failed-without-cert"),
        pytest.param("NONE-WITH-CERT", id="none-with-a-certificate"),
    ],
)
def test_no_certificate_per_nginx(headers, pki, wire):
    """Threat model A.5: "NONE" with a certificate, or "SUCCESS" with none, signs nobody in."""
    if headers == "NONE-WITH-CERT":
        headers = [(CERT, _escaped(wire, pki.leaf)), (VERIFY, "NONE")]

    assert get_adapter("nginx").extract(headers) is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param("-----BEGIN%20CERTIFICATE-----%0AMII%zz", "malformed", id="bad-escape"),
        pytest.param("%4", "malformed", id="truncated-escape"),
        pytest.param("%", "malformed", id="lone-percent"),
        pytest.param("%FF%FE", "malformed", id="escapes-to-non-ascii"),
        pytest.param("-----BEGIN CERTIFICATE-----", "malformed", id="raw-space"),
        pytest.param("MIIBkTCB%2Bw%3D%3D", "malformed", id="base64-without-armour"),
        pytest.param("hello%20world", "malformed", id="text"),
        pytest.param(
            quote("-----BEGIN CERTIFICATE-----\nMII!!!\n-----END CERTIFICATE-----\n", safe=""),
            "malformed",
            id="armoured-junk",
        ),
        pytest.param(
            quote("-----BEGIN CERTIFICATE-----\nMIIB\n", safe=""),
            "malformed",
            id="unterminated-block",
        ),
        pytest.param(
            quote("-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n", safe=""),
            "malformed",
            id="mismatched-end-line",
        ),
    ],
)
def test_garbage_is_refused(value, code):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("nginx").extract([(CERT, value), (VERIFY, "SUCCESS")])

    assert refused.value.code == code


def test_text_around_the_pem_block_is_refused(pki, wire):
    pem = wire.pem_text([("CERTIFICATE", pki.leaf_der)])
    adapter = get_adapter("nginx")

    with pytest.raises(ProxyHeaderError) as before:
        adapter.extract([(CERT, quote("subject=CN=alice\n" + pem, safe=""))])
    with pytest.raises(ProxyHeaderError) as after:
        adapter.extract([(CERT, quote(pem + "trailer\n", safe=""))])

    assert before.value.code == "malformed"
    assert after.value.code == "trailing_data"


@pytest.mark.parametrize(
    "verdict", ["success", "OK", "FAILED", "NONE;", "SUCCESS,NONE", "FAILED:\u00e9"]
)
def test_unknown_verdict_is_refused(verdict, pki, wire):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("nginx").extract([(CERT, _escaped(wire, pki.leaf)), (VERIFY, verdict)])

    assert refused.value.code == "malformed"


def test_plus_kept_literally_and_crlf_line_endings_accepted(pki, wire):
    pem = wire.pem_text([("CERTIFICATE", pki.leaf_der)]).replace("\n", "\r\n")

    forwarded = get_adapter("nginx").extract([(CERT, quote(pem, safe="+/="))])

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der

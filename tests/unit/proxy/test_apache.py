"""Apache mod_ssl: ``%{SSL_CLIENT_CERT}s`` with newlines as spaces, ``(null)`` for none."""

from __future__ import annotations

import pytest

from app.proxy import ProxyHeaderError, get_adapter

CERT = "X-SSL-Client-Cert"
VERIFY = "X-SSL-Client-Verify"


def _spaced(wire, certificate):
    return wire.pem_text([("CERTIFICATE", wire.der(certificate))]).replace("\n", " ")


@pytest.mark.parametrize("verdict", ["SUCCESS", "GENEROUS", "FAILED:self-signed", "FAILED"])
def test_spaced_pem_is_reconstructed(verdict, pki, wire):
    forwarded = get_adapter("apache").extract(
        [(CERT, _spaced(wire, pki.self_signed)), (VERIFY, verdict)]
    )

    assert forwarded is not None
    assert forwarded.leaf_der == wire.der(pki.self_signed)
    assert forwarded.proxy_verify == verdict


def test_pem_on_one_line_without_any_separator(pki, wire):
    one_line = f"-----BEGIN CERTIFICATE-----{wire.b64(pki.leaf_der)}-----END CERTIFICATE-----"

    forwarded = get_adapter("apache").extract([(CERT, one_line)])

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(CERT, "(null)"), (VERIFY, "NONE")], id="null-none"),
        pytest.param([(CERT, "(null)")], id="null-alone"),
        pytest.param([(CERT, "(null)"), (VERIFY, "SUCCESS")], id="null-success"),
        pytest.param([(CERT, ""), (VERIFY, "NONE")], id="empty"),
        pytest.param("NONE-WITH-CERT", id="none-with-a-certificate"),
    ],
)
def test_no_certificate_per_apache(headers, pki, wire):
    if headers == "NONE-WITH-CERT":
        headers = [(CERT, _spaced(wire, pki.leaf)), (VERIFY, "NONE")]

    assert get_adapter("apache").extract(headers) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("(NULL)", id="null-other-case"),
        pytest.param("null", id="bare-null"),
        pytest.param("-----BEGIN CERTIFICATE----- MI%41B -----END CERTIFICATE-----", id="escape"),
        pytest.param("-----BEGIN CERTIFICATE-----  -----END CERTIFICATE-----", id="empty-body"),
        pytest.param("-----BEGIN  CERTIFICATE----- QUJD -----END  CERTIFICATE-----", id="label"),
        pytest.param("MIIBkTCB+w==", id="base64-without-armour"),
    ],
)
def test_garbage_is_refused(value):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("apache").extract([(CERT, value), (VERIFY, "SUCCESS")])

    assert refused.value.code == "malformed"


@pytest.mark.parametrize("verdict", ["GENEROUS:x", "Success", "NONE,SUCCESS"])
def test_unknown_verdict_is_refused(verdict, pki, wire):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("apache").extract([(CERT, _spaced(wire, pki.leaf)), (VERIFY, verdict)])

    assert refused.value.code == "malformed"

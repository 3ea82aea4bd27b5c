"""Caddy: ``{http.request.tls.client.certificate_der_base64}``."""

from __future__ import annotations

import pytest

from app.proxy import ProxyHeaderError, get_adapter

HEADER = "X-SSL-Client-Cert-DER"


def test_base64_der(pki, wire):
    forwarded = get_adapter("caddy").extract([(HEADER, wire.b64(pki.leaf_der))])

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der
    assert forwarded.proxy_verify is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("{http.request.tls.client.certificate_der_base64}", id="unexpanded"),
        pytest.param("", id="empty"),
        pytest.param(" ", id="blank"),
    ],
)
def test_no_certificate_per_caddy(value):
    """Without a client certificate Caddy's header_up forwards the placeholder unexpanded."""
    assert get_adapter("caddy").extract([(HEADER, value)]) is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        pytest.param(
            "{http.request.tls.client.certificate_pem}", "malformed", id="other-placeholder"
        ),
        pytest.param("QUJD", "malformed", id="three-bytes"),
        pytest.param("MAA=", "not_a_certificate", id="empty-sequence"),
        pytest.param("====", "malformed", id="only-padding"),
    ],
)
def test_garbage_is_refused(value, code):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("caddy").extract([(HEADER, value)])

    assert refused.value.code == code


def test_pem_placeholder_in_the_der_header_is_refused(pki, wire):
    pem = wire.pem_text([("CERTIFICATE", pki.leaf_der)]).replace("\n", "")

    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("caddy").extract([(HEADER, pem)])

    assert refused.value.code == "malformed"

"""Traefik ``passTLSClientCert`` (pem: true): comma-separated base64 DER, leaf first."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.proxy import ProxyHeaderError, get_adapter

HEADER = "X-Forwarded-Tls-Client-Cert"


def _extract(value):
    return get_adapter("traefik").extract([(HEADER, value)])


def _refused(value):
    with pytest.raises(ProxyHeaderError) as refused:
        _extract(value)
    return refused.value.code


def test_leaf_then_chain(pki, wire):
    forwarded = _extract(f"{wire.b64(pki.leaf_der)},{wire.b64(pki.ca_der)}")

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der
    assert forwarded.chain == (pki.ca,)
    assert forwarded.proxy_verify is None


@pytest.mark.parametrize(
    "escape",
    [
        pytest.param(lambda values: ",".join(quote(v, safe="") for v in values), id="per-cert"),
        pytest.param(lambda values: quote(",".join(values), safe=""), id="whole-value"),
    ],
)
def test_url_escaped_variant_of_traefik_2_8(escape, pki, wire):
    """Traefik 2.8 to 2.9.1 ran the base64 through url.QueryEscape (traefik/traefik#9379)."""
    value = escape([wire.b64(pki.leaf_der), wire.b64(pki.ca_der)])
    assert "%" in value

    forwarded = _extract(value)

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der
    assert forwarded.chain == (pki.ca,)


def test_eleven_certificates_is_the_limit(pki, wire):
    forwarded = _extract(",".join([wire.b64(pki.leaf_der)] + [wire.b64(pki.ca_der)] * 10))

    assert forwarded is not None
    assert len(forwarded.chain) == 10
    assert _refused(",".join([wire.b64(pki.ca_der)] * 12)) == "too_large"


@pytest.mark.parametrize(
    ("build", "code"),
    [
        pytest.param(lambda p, w: f"{w.b64(p.leaf_der)},", "malformed", id="trailing-comma"),
        pytest.param(lambda p, w: f",{w.b64(p.leaf_der)}", "malformed", id="leading-comma"),
        pytest.param(
            lambda p, w: f"{w.b64(p.leaf_der)}, {w.b64(p.ca_der)}", "malformed", id="space"
        ),
        pytest.param(lambda p, w: f"{w.b64(p.leaf_der)},!!!!", "malformed", id="junk-in-chain"),
        pytest.param(
            lambda p, w: w.pem_text([("CERTIFICATE", p.leaf_der)]).replace("\n", ""),
            "malformed",
            id="pem-armour",
        ),
        pytest.param(lambda p, w: "%zz", "malformed", id="bad-escape"),
        pytest.param(
            lambda p, w: f"{w.b64(p.leaf_der)},{w.b64(p.key_der)}",
            "not_a_certificate",
            id="key-in-chain",
        ),
    ],
)
def test_garbage_is_refused(build, code, pki, wire):
    assert _refused(build(pki, wire)) == code

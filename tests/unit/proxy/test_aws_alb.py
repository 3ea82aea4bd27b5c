"""AWS ALB mutual TLS, verify mode: ``X-Amzn-Mtls-Clientcert-Leaf``."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from app.proxy import ProxyHeaderError, get_adapter

LEAF = "X-Amzn-Mtls-Clientcert-Leaf"


def _pem(wire, der):
    return wire.pem_text([("CERTIFICATE", der)])


@pytest.mark.parametrize(
    "safe",
    [
        pytest.param("+=/", id="alb-style-plus-left-unescaped"),
        pytest.param("", id="everything-escaped"),
    ],
)
def test_url_encoded_pem(safe, pki, wire):
    value = quote(_pem(wire, pki.leaf_der), safe=safe)

    forwarded = get_adapter("aws-alb").extract(
        [
            (LEAF, value),
            ("X-Amzn-Mtls-Clientcert-Subject", "CN=alice"),
            ("X-Amzn-Mtls-Clientcert-Serial-Number", "7E"),
        ]
    )

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der


def test_plus_is_never_read_as_a_space(pki, wire):
    """Form decoding would turn the unescaped '+' of base64 into spaces and break the DER."""
    plus_heavy = next(
        (c for c in (pki.leaf, pki.ca, pki.self_signed) if "+" in wire.b64(wire.der(c))), None
    )
    if plus_heavy is None:
        pytest.skip("no test certificate has a '+' in its base64")
    value = quote(_pem(wire, wire.der(plus_heavy)), safe="+=/")
    assert "+" in value

    forwarded = get_adapter("aws-alb").extract([(LEAF, value)])

    assert forwarded is not None
    assert forwarded.leaf == plus_heavy


def test_passthrough_header_is_foreign(pki, wire):
    """Passthrough mode forwards an unverified chain; only verify mode is supported."""
    pem = quote(_pem(wire, pki.leaf_der), safe="+=/")

    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("aws-alb").extract([(LEAF, pem), ("X-Amzn-Mtls-Clientcert", pem)])

    assert refused.value.code == "foreign_header"
    assert refused.value.header == "x-amzn-mtls-clientcert"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("-----BEGIN%20CERTIFICATE-----%0A%zz", id="bad-escape"),
        pytest.param("-----BEGIN CERTIFICATE-----", id="raw-space"),
        pytest.param("%C3%A9", id="non-ascii"),
    ],
)
def test_garbage_is_refused(value):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter("aws-alb").extract([(LEAF, value)])

    assert refused.value.code == "malformed"

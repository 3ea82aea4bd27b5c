"""The package's public API: FORMATS, get_adapter, all_known_certificate_headers."""

from __future__ import annotations

import dataclasses

import pytest

import app.proxy
from app.proxy import (
    FORMATS,
    CertificateSource,
    ForwardedCertificate,
    ProxyHeaderError,
    all_known_certificate_headers,
    get_adapter,
)

DEFAULT_HEADERS = {
    "nginx": ("x-ssl-client-cert", "x-ssl-client-verify"),
    "apache": ("x-ssl-client-cert", "x-ssl-client-verify"),
    "haproxy": (
        "x-ssl-client-der",
        "x-ssl-client-used",
        "x-ssl-client-chain-der",
        "x-ssl-client-verify",
    ),
    "caddy": ("x-ssl-client-cert-der",),
    "envoy": ("x-forwarded-client-cert",),
    "traefik": ("x-forwarded-tls-client-cert",),
    "aws-alb": ("x-amzn-mtls-clientcert-leaf",),
    "rfc9440": ("client-cert", "client-cert-chain"),
}


def test_formats_are_the_documented_eight():
    assert FORMATS == (
        "nginx",
        "apache",
        "haproxy",
        "caddy",
        "envoy",
        "traefik",
        "aws-alb",
        "rfc9440",
    )
    assert set(app.proxy.__all__) >= {
        "FORMATS",
        "CertificateSource",
        "ForwardedCertificate",
        "ProxyHeaderError",
        "all_known_certificate_headers",
        "get_adapter",
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_has_an_adapter_reading_its_documented_headers(fmt):
    adapter: CertificateSource = get_adapter(fmt)

    assert adapter.name == fmt
    assert adapter.header_names == DEFAULT_HEADERS[fmt]
    assert DEFAULT_HEADERS[fmt][0] in repr(adapter)


@pytest.mark.parametrize("fmt", ["", "NGINX", "nginx ", "iis", "aws_alb", "rfc8941"])
def test_unknown_format_is_a_value_error(fmt):
    with pytest.raises(ValueError, match="unknown proxy header format"):
        get_adapter(fmt)


@pytest.mark.parametrize(
    ("fmt", "header"),
    [
        pytest.param("nginx", "", id="empty"),
        pytest.param("nginx", "X SSL", id="space"),
        pytest.param("nginx", "X-SSL:", id="colon"),
        pytest.param("nginx", "x_ssl_client_cert", id="underscore"),
        pytest.param("nginx", "X-SSL-Client-Verify", id="collides-with-verdict"),
        pytest.param("haproxy", "x-ssl-client-chain-der", id="collides-with-chain"),
        pytest.param("rfc9440", "Client-Cert-Chain", id="collides-with-rfc9440-chain"),
    ],
)
def test_unusable_header_override_is_a_value_error(fmt, header):
    with pytest.raises(ValueError):
        get_adapter(fmt, header=header)


def test_known_certificate_headers():
    known = all_known_certificate_headers()

    assert known == {
        "x-ssl-client-cert",
        "x-ssl-client-der",
        "x-ssl-client-chain-der",
        "x-ssl-client-cert-der",
        "x-forwarded-client-cert",
        "x-forwarded-tls-client-cert",
        "x-amzn-mtls-clientcert-leaf",
        "x-amzn-mtls-clientcert",
        "client-cert",
        "client-cert-chain",
    }
    assert all(name == name.lower() for name in known)
    # Verdict headers carry no certificate and are shared between formats.
    assert "x-ssl-client-verify" not in known


def test_proxy_header_error_is_a_value_error_with_a_stable_code():
    error = ProxyHeaderError("chain_as_leaf", header="x-ssl-client-cert")

    assert isinstance(error, ValueError)
    assert error.code == "chain_as_leaf"
    assert error.header == "x-ssl-client-cert"
    assert str(error) == error.message
    assert "one was expected" in error.message


def test_forwarded_certificate_is_frozen_and_consistent(pki):
    forwarded = ForwardedCertificate(leaf=pki.leaf, leaf_der=pki.leaf_der)

    assert forwarded.chain == ()
    assert forwarded.proxy_verify is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        forwarded.leaf_der = b""  # type: ignore[misc]
    with pytest.raises(ValueError):
        ForwardedCertificate(leaf=pki.leaf, leaf_der=pki.ca_der)

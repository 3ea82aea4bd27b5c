"""``ProxyOptions.parse``: every value that reaches a proxy grammar is checked first."""

from __future__ import annotations

from typing import Any

import pytest

from app.deploy import DeployError, Endpoint, ProxyOptions

GOOD: dict[str, Any] = {"listen": "0.0.0.0:443", "upstream": "127.0.0.1:8000",
                        "tls_cert": "/etc/keystile/tls/server.crt",
                        "tls_key": "/etc/keystile/tls/server.key"}


def parse(proxy: str = "nginx", **changes: Any) -> ProxyOptions:
    return ProxyOptions.parse(proxy, **{**GOOD, **changes})


@pytest.mark.parametrize(("proxy", "changes", "message"), [
    pytest.param("nginx", {"upstream": "10.0.0.5:8000"}, "loopback", id="remote-upstream"),
    pytest.param("nginx", {"upstream": "app.internal:8000"}, "loopback", id="named-upstream"),
    pytest.param("nginx", {"upstream": "127.0.0.1"}, "HOST:PORT", id="upstream-without-port"),
    pytest.param("nginx", {"listen": "0.0.0.0:99999"}, "not a TCP port", id="bad-port"),
    pytest.param("nginx", {"listen": "[::1:443"}, "HOST:PORT", id="bad-ipv6"),
    pytest.param("nginx", {"listen": "a b:443"}, "HOST:PORT", id="space-in-host"),
    pytest.param("nginx", {"tls_cert": "server.crt"}, "absolute path", id="relative-path"),
    pytest.param("nginx", {"tls_key": "/etc/my key.pem"}, "misread", id="space-in-path"),
    pytest.param("nginx", {"tls_key": "/etc/k.pem;\nuser root"}, "misread", id="injection"),
    pytest.param("caddy", {"client_ca": "/etc/{env.HOME}/ca.pem"}, "misread", id="placeholder"),
    pytest.param("nginx", {"prefix": "/var/../etc"}, "misread", id="dot-dot"),
    pytest.param("nginx", {"mode": "explicit"}, "--cert-host", id="explicit-without-host"),
    pytest.param("nginx", {"cert_host": "cert.example.org"}, "--cert-host", id="host-in-auto"),
    pytest.param("nginx", {"mode": "explicit", "cert_host": "cert_example;"}, "DNS host name",
                 id="bad-cert-host"),
    pytest.param("nginx", {"mode": "sometimes"}, "--mode", id="bad-mode"),
    pytest.param("lighttpd", {}, "unknown proxy", id="unknown-proxy"),
    pytest.param("nginx", {"secret": "short"}, "KEYSTILE_PROXY_SECRET", id="short-secret"),
    pytest.param("nginx", {"secret": 'x" always;' * 3}, "KEYSTILE_PROXY_SECRET",
                 id="secret-with-quote"),
    pytest.param("haproxy", {"tls_key": "/etc/keystile/private/server.key"}, "HAProxy reads",
                 id="haproxy-key-elsewhere"),
    pytest.param("haproxy", {"mode": "explicit", "cert_host": "cert.example.org",
                             "prefix": "/" + "p" * 90}, "too long", id="haproxy-long-prefix"),
])
def test_refused(proxy: str, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        parse(proxy, **changes)


def test_normalized_values() -> None:
    options = parse(upstream="localhost:8000", listen="[::]:8443", mode="explicit",
                    cert_host="Cert.Example.ORG")
    assert options.upstream == Endpoint("127.0.0.1", 8000)
    assert str(options.listen) == "[::]:8443"
    assert options.cert_host == "cert.example.org"
    assert options.prefix == "/var/lib/keystile/nginx"
    assert str(parse(upstream="[::1]:8000").upstream) == "[::1]:8000"


@pytest.mark.parametrize("key", ["/etc/keystile/tls/server.key", "/etc/keystile/tls/server.crt"])
def test_haproxy_key_next_to_or_inside_the_certificate(key: str) -> None:
    assert parse("haproxy", tls_key=key).tls_key == key

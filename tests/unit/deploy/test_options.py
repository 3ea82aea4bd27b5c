"""``ProxyOptions.parse``: every value that reaches a proxy grammar is checked first."""

from __future__ import annotations

from typing import Any

import pytest

from app.deploy import PROXIES, DeployError, Endpoint, ProxyOptions, UnixSocket

GOOD: dict[str, Any] = {
    "listen": "0.0.0.0:443",
    "upstream": "127.0.0.1:8000",
    "tls_cert": "/etc/keystile/tls/server.crt",
    "tls_key": "/etc/keystile/tls/server.key",
}


def parse(proxy: str = "nginx", **changes: Any) -> ProxyOptions:
    return ProxyOptions.parse(proxy, **{**GOOD, **changes})


@pytest.mark.parametrize(
    ("proxy", "changes", "message"),
    [
        pytest.param("nginx", {"upstream": "10.0.0.5:8000"}, "loopback", id="remote-upstream"),
        pytest.param("nginx", {"upstream": "app.internal:8000"}, "loopback", id="named-upstream"),
        pytest.param("nginx", {"upstream": "127.0.0.1"}, "HOST:PORT", id="upstream-without-port"),
        pytest.param(
            "nginx", {"upstream": "unix:run/app.sock"}, "absolute path", id="relative-socket"
        ),
        pytest.param("nginx", {"upstream": "unix:"}, "absolute path", id="socket-without-path"),
        pytest.param("nginx", {"upstream": "unix:/"}, "name the socket file", id="socket-is-root"),
        pytest.param(
            "nginx", {"upstream": "unix:/run/my app.sock"}, "misread", id="space-in-socket"
        ),
        # nginx ends the socket path at a colon, and whatever follows is the URI it requests.
        pytest.param(
            "nginx", {"upstream": "unix:/run/app.sock:/admin"}, "misread", id="colon-in-socket"
        ),
        # Apache ends the socket path at a "|", and the URL after it is where it connects.
        pytest.param(
            "apache",
            {"upstream": "unix:/run/app.sock|http://192.0.2.10/"},
            "misread",
            id="pipe-in-socket",
        ),
        pytest.param(
            "caddy",
            {"upstream": "unix:/run/{env.HOME}.sock"},
            "misread",
            id="placeholder-in-socket",
        ),
        pytest.param(
            "nginx", {"upstream": "unix:/run/../tmp/app.sock"}, "misread", id="dot-dot-in-socket"
        ),
        pytest.param(
            "nginx",
            {"upstream": "unix:/" + "s" * 107},
            "at most 107 characters",
            id="socket-longer-than-sun-path",
        ),
        pytest.param(
            "haproxy",
            {"upstream": "unix:/" + "s" * 97},
            "at most 97 characters",
            id="haproxy-long-socket",
        ),
        pytest.param(
            "nginx", {"upstream": "unix/run/app.sock"}, "HOST:PORT", id="unix-without-colon"
        ),
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
        pytest.param(
            "nginx",
            {"mode": "explicit", "cert_host": "cert_example;"},
            "DNS host name",
            id="bad-cert-host",
        ),
        pytest.param("nginx", {"mode": "sometimes"}, "--mode", id="bad-mode"),
        pytest.param("lighttpd", {}, "unknown proxy", id="unknown-proxy"),
        pytest.param("nginx", {"secret": "short"}, "KEYSTILE_PROXY_SECRET", id="short-secret"),
        pytest.param(
            "nginx", {"secret": 'x" always;' * 3}, "KEYSTILE_PROXY_SECRET", id="secret-with-quote"
        ),
        pytest.param(
            "haproxy",
            {"tls_key": "/etc/keystile/private/server.key"},
            "HAProxy reads",
            id="haproxy-key-elsewhere",
        ),
        pytest.param(
            "haproxy",
            {"mode": "explicit", "cert_host": "cert.example.org", "prefix": "/" + "p" * 90},
            "too long",
            id="haproxy-long-prefix",
        ),
    ],
)
def test_refused(proxy: str, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        parse(proxy, **changes)


def test_normalized_values() -> None:
    options = parse(
        upstream="localhost:8000", listen="[::]:8443", mode="explicit", cert_host="Cert.Example.ORG"
    )
    assert options.upstream == Endpoint("127.0.0.1", 8000)
    assert str(options.listen) == "[::]:8443"
    assert options.cert_host == "cert.example.org"
    assert options.prefix == "/var/lib/keystile/nginx"
    assert str(parse(upstream="[::1]:8000").upstream) == "[::1]:8000"


@pytest.mark.parametrize("key", ["/etc/keystile/tls/server.key", "/etc/keystile/tls/server.crt"])
def test_haproxy_key_next_to_or_inside_the_certificate(key: str) -> None:
    assert parse("haproxy", tls_key=key).tls_key == key


@pytest.mark.parametrize("proxy", PROXIES)
def test_unix_socket_upstream(proxy: str) -> None:
    options = parse(proxy, upstream="unix:/run/keystile/app.sock")
    assert options.upstream == UnixSocket("/run/keystile/app.sock")
    assert options.upstream_socket == "/run/keystile/app.sock"
    assert str(options.upstream) == "unix:/run/keystile/app.sock"


@pytest.mark.parametrize(
    ("value", "path"),
    [
        pytest.param("unix:/run//keystile/./app.sock", "/run/keystile/app.sock", id="normalized"),
        pytest.param("unix:/" + "s" * 106, "/" + "s" * 106, id="longest-for-sun-path"),
    ],
)
def test_unix_socket_paths(value: str, path: str) -> None:
    assert parse(upstream=value).upstream == UnixSocket(path)


def test_haproxy_takes_unix_socket_paths_up_to_its_limit() -> None:
    assert parse("haproxy", upstream="unix:/" + "s" * 96).upstream_socket == "/" + "s" * 96


def test_a_tcp_upstream_has_no_socket() -> None:
    assert parse().upstream_socket is None

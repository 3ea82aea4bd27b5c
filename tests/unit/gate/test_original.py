"""The request a proxy asks about, read from its headers: exactly once, well formed."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers

from app.gate.original import Original, UnreadableCheck, from_auth_request, from_forward_auth


def nginx(url: str, method: str = "GET") -> Headers:
    return Headers({"X-Original-URL": url, "X-Original-Method": method})


def forwarded(**values: str) -> Headers:
    base = {
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "wiki.example.com",
        "X-Forwarded-Uri": "/a?b=1",
    }
    return Headers({**base, **{f"X-Forwarded-{k.title()}": v for k, v in values.items()}})


@pytest.mark.parametrize(
    ("url", "method", "expected"),
    [
        (
            "https://wiki.example.com/a?b=1",
            "GET",
            Original("GET", "https", "wiki.example.com", "/a?b=1"),
        ),
        (
            "https://Wiki.Example.com:8443",
            "post",
            Original("POST", "https", "wiki.example.com:8443", "/"),
        ),
        ("http://10.0.0.1/x?", "PUT", Original("PUT", "http", "10.0.0.1", "/x?")),
        ("https://[::1]:8443/x", "GET", Original("GET", "https", "[::1]:8443", "/x")),
    ],
)
def test_auth_request_read(url: str, method: str, expected: Original) -> None:
    assert from_auth_request(nginx(url, method)) == expected


@pytest.mark.parametrize(
    ("url", "method"),
    [
        ("", "GET"),
        ("/a", "GET"),
        ("ftp://wiki.example.com/", "GET"),
        ("https://u@wiki.example.com/", "GET"),
        ("https://wiki.example.com/#x", "GET"),
        ("https://wiki.example.com/a b", "GET"),
        ("https://wiki.example.com/\u00e9", "GET"),
        ("https://[::1/", "GET"),
        ("https://wiki.example.com:0x/", "GET"),
        ("https://wiki..example.com/", "GET"),
        ("https://wiki.example.com/", "G3T"),
        ("https://wiki.example.com/", ""),
        ("https:///a", "GET"),
    ],
)
def test_auth_request_refused(url: str, method: str) -> None:
    with pytest.raises(UnreadableCheck):
        from_auth_request(nginx(url, method))


def test_auth_request_headers_must_appear_once() -> None:
    twice = nginx("https://wiki.example.com/public/")
    twice.add("X-Original-URL", "https://wiki.example.com/admin/")
    with pytest.raises(UnreadableCheck, match="exactly once"):
        from_auth_request(twice)
    with pytest.raises(UnreadableCheck, match="exactly once"):
        from_auth_request(Headers({"X-Original-URL": "https://wiki.example.com/"}))


def test_forward_auth_read() -> None:
    assert from_forward_auth(forwarded(method="delete", proto="HTTPS", host="a.b:444")) == Original(
        "DELETE", "https", "a.b:444", "/a?b=1"
    )
    assert from_forward_auth(forwarded()).url == "https://wiki.example.com/a?b=1"


@pytest.mark.parametrize(
    "values",
    [
        {"proto": "ws"},
        {"host": "a.b, c.d"},
        {"host": "a.b/c"},
        {"uri": "a"},
        {"uri": "https://evil/"},
        {"uri": "/a#b"},
        {"uri": "/" + "a" * 9000},
        {"method": "GET /"},
    ],
)
def test_forward_auth_refused(values: dict[str, str]) -> None:
    with pytest.raises(UnreadableCheck):
        from_forward_auth(forwarded(**values))

"""How an Origin header is compared with Keystile's own origins (app/web/origin.py)."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.web.origin import allowed_origins, foreign_origin, serialize


@pytest.mark.parametrize(("raw", "expected"), [
    pytest.param("https://login.example.org", "https://login.example.org", id="plain"),
    pytest.param("HTTPS://Login.Example.ORG", "https://login.example.org", id="case"),
    pytest.param("https://login.example.org:443", "https://login.example.org", id="default-port"),
    pytest.param("http://localhost:80", "http://localhost", id="http-default-port"),
    pytest.param("https://login.example.org:8443", "https://login.example.org:8443", id="port"),
    pytest.param("https://login.example.org/", "https://login.example.org", id="root-path"),
    pytest.param("https://[::1]:8443", "https://[::1]:8443", id="ipv6"),
    pytest.param("null", "", id="opaque"),
    pytest.param("", "", id="empty"),
    pytest.param("ftp://login.example.org", "", id="scheme"),
    pytest.param("https://login.example.org/path", "", id="path"),
    pytest.param("https://login.example.org:99999", "", id="bad-port"),
    pytest.param("https://", "", id="no-host"),
])
def test_serialize(raw: str, expected: str) -> None:
    assert serialize(raw) == expected


SETTINGS = Settings(origin="https://login.example.org",
                    extra_origins=("http://localhost:5000",))


@pytest.mark.parametrize(("method", "sent", "foreign"), [
    pytest.param("POST", None, False, id="no-header"),
    pytest.param("POST", "https://login.example.org", False, id="own"),
    pytest.param("DELETE", "https://login.example.org:443", False, id="own-default-port"),
    pytest.param("POST", "http://localhost:5000", False, id="extra"),
    pytest.param("POST", "https://evil.example", True, id="other-site"),
    pytest.param("PUT", "https://login.example.org:8443", True, id="other-port"),
    pytest.param("PATCH", "http://login.example.org", True, id="other-scheme"),
    pytest.param("POST", "null", True, id="opaque"),
    pytest.param("POST", "", True, id="empty"),
    pytest.param("GET", "https://evil.example", False, id="safe-method"),
    pytest.param("HEAD", "null", False, id="safe-head"),
])
def test_foreign_origin(method: str, sent: str | None, foreign: bool) -> None:
    assert foreign_origin(method, sent, SETTINGS) is foreign


def test_allowed_origins_are_the_webauthn_origins() -> None:
    assert allowed_origins(SETTINGS) == {"https://login.example.org", "http://localhost:5000"}

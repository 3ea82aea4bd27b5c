"""How an Origin header is compared with Keystile's own origins (app/web/origin.py)."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.web.origin import allowed_origins, foreign_origin, serialize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("https://login.example.org", "https://login.example.org", id="plain"),
        pytest.param("HTTPS://Login.Example.ORG", "https://login.example.org", id="case"),
        pytest.param(
            "https://login.example.org:443", "https://login.example.org", id="default-port"
        ),
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
    ],
)
def test_serialize(raw: str, expected: str) -> None:
    assert serialize(raw) == expected


SETTINGS = Settings(origin="https://login.example.org", extra_origins=("http://localhost:5000",))


@pytest.mark.parametrize(
    ("method", "sent", "fetch_site", "foreign"),
    [
        pytest.param("POST", None, None, False, id="no-headers"),
        pytest.param("POST", "https://login.example.org", "same-origin", False, id="own"),
        pytest.param("DELETE", "https://login.example.org:443", None, False, id="own-default-port"),
        pytest.param("POST", "http://localhost:5000", "cross-site", False, id="extra"),
        pytest.param("POST", "https://evil.example", "cross-site", True, id="other-site"),
        pytest.param("POST", "https://evil.example", None, True, id="other-site-no-metadata"),
        pytest.param("PUT", "https://login.example.org:8443", None, True, id="other-port"),
        pytest.param("PATCH", "http://login.example.org", None, True, id="other-scheme"),
        pytest.param("POST", "", None, True, id="empty"),
        # Origin: null is what a browser sends for a form posted under Referrer-Policy:
        # no-referrer (Keystile's own pages); Fetch Metadata says whose page it was.
        pytest.param("POST", "null", "same-origin", False, id="null-own-page"),
        pytest.param("POST", "null", None, False, id="null-no-metadata"),
        pytest.param("POST", "null", "cross-site", True, id="null-other-site"),
        pytest.param("POST", "null", "Same-Site", True, id="null-sibling-site"),
        pytest.param("POST", None, "cross-site", True, id="no-origin-other-site"),
        pytest.param("POST", None, "none", False, id="user-initiated"),
        pytest.param("GET", "https://evil.example", "cross-site", False, id="safe-method"),
        pytest.param("HEAD", "null", "cross-site", False, id="safe-head"),
    ],
)
def test_foreign_origin(
    method: str, sent: str | None, fetch_site: str | None, foreign: bool
) -> None:
    assert foreign_origin(method, sent, fetch_site, SETTINGS) is foreign


def test_allowed_origins_are_the_webauthn_origins() -> None:
    assert allowed_origins(SETTINGS) == {"https://login.example.org", "http://localhost:5000"}

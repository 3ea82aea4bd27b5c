"""The Origin check on state-changing requests (app/web/origin.py), defence in depth beside
the CSRF token: the same answer from the Flask views and with the sign-in edge (every test
runs both ways, tests/functional/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from tests.conftest import PASSWORD, csrf_from


def fetch_headers(origin: str | None, fetch_site: str | None = None) -> dict[str, str]:
    headers = {"Origin": origin} if origin is not None else {}
    if fetch_site is not None:
        headers["Sec-Fetch-Site"] = fetch_site
    return headers


def options(client: FlaskClient, origin: str | None, fetch_site: str | None = None) -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    headers = {
        "X-CSRFToken": token,
        "Content-Type": "application/json",
        **fetch_headers(origin, fetch_site),
    }
    return client.post("/webauthn/login/options", data=b"{}", headers=headers)


def password_login(client: FlaskClient, origin: str | None, fetch_site: str | None = None) -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
        headers=fetch_headers(origin, fetch_site),
    )


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        (None, None),
        ("https://localhost", "same-origin"),
        ("https://localhost:443", None),
        ("HTTPS://LOCALHOST", None),
        # what Chromium sends for Keystile's own sign-in form: its pages say
        # Referrer-Policy: no-referrer, so the form's Origin is "null" (Fetch standard)
        ("null", "same-origin"),
        ("null", None),
    ],
)
def test_keystile_s_own_pages_are_accepted(
    origin: str | None, fetch_site: str | None, client: FlaskClient, alice: User
) -> None:
    assert options(client, origin, fetch_site).status_code == 200
    assert password_login(client, origin, fetch_site).status_code == 303


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", None),
        ("null", "cross-site"),
        (None, "cross-site"),
        ("null", "same-site"),
        ("http://localhost", None),
        ("https://localhost:8443", None),
        ("https://localhost.evil.example", None),
    ],
)
def test_another_origin_is_refused_before_any_view_reads_it(
    origin: str | None,
    fetch_site: str | None,
    client: FlaskClient,
    alice: User,
    db: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = db.scalar(select(func.count()).select_from(AuditEvent))
    resp = options(client, origin, fetch_site)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "origin"
    assert resp.get_json()["message"].startswith("This request came from another site")
    assert resp.headers["Content-Security-Policy"]
    page = password_login(client, origin, fetch_site)
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert b"This request came from another site" in page.data
    assert client.get("/api/session").status_code == 401  # not signed in
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(AuditEvent)) == before  # logged only
    assert "refused POST /login from origin" in caplog.text


def test_a_safe_request_is_not_checked(client: FlaskClient) -> None:
    resp = client.get("/api/session", headers={"Origin": "https://evil.example"})
    assert resp.status_code == 401 and resp.get_json() == {"authenticated": False}
    assert (
        client.get("/login", headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"}).status_code
        == 200
    )


@pytest.mark.parametrize("app_overrides", [{"extra_origins": ("http://localhost:5000",)}])
def test_an_extra_origin_is_accepted(client: FlaskClient, alice: User) -> None:
    assert options(client, "http://localhost:5000").status_code == 200
    assert password_login(client, "http://localhost:5000").status_code == 303


def test_the_origin_is_checked_before_the_token(client: FlaskClient) -> None:
    """A foreign page has no token either: it is told what it is, a foreign origin."""
    resp = client.post(
        "/webauthn/login/options",
        data=b"{}",
        headers={"Origin": "https://evil.example", "Content-Type": "application/json"},
    )
    assert resp.status_code == 403 and resp.get_json()["error"] == "origin"

"""Regressions from a security review: odd input that used to end in a 500, and query
values that reached ``url_for()`` as its keyword arguments. Each runs on SQLite and, when
configured, on PostgreSQL (which refuses NUL in text and integers beyond 64 bits)."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from app.services.audit import Event
from tests.conftest import PASSWORD, AuthActions, csrf_from, make_user
from tests.support.admin import admin_signed_in, post

TOO_BIG = str(2**31)  # one past the largest id (INTEGER, 32-bit on PostgreSQL)
HUGE = "9" * 30


@pytest.fixture
def admin(client: FlaskClient, db: Session, app: Flask) -> User:
    return admin_signed_in(client, db, app)


# -- admin audit filters: dates past year 1 / 9999 -----------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",  # the end of that day is year 10000
        "since=9999-12-31T23:00-05:00",  # the offset moves it past 9999
        "since=0001-01-01T00:00%2B05:00",  # ... or before year 1
        "until=0001-01-01T01:00%2B14:00",
    ],
)
def test_audit_filter_dates_out_of_range_are_a_400(
    client: FlaskClient, admin: User, query: str
) -> None:
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == 400
    assert "Use a date like" in page.get_data(as_text=True)
    assert client.get(f"/admin/audit/export?{query}").status_code == 400


@pytest.mark.parametrize(
    "cursor",
    [
        f"2026-01-01T00:00:00~{HUGE}",
        f"2026-01-01T00:00:00~-{HUGE}",
        f"2026-01-01T00:00:00%2B00:00~{2**63}",
        "9999-12-31T23:59:59-05:00~1",
        "0001-01-01T00:00:00%2B05:00~1",
    ],
)
def test_audit_cursor_out_of_range_is_ignored(
    client: FlaskClient, admin: User, cursor: str
) -> None:
    page = client.get(f"/admin/audit?after={cursor}")
    assert page.status_code == 200
    # the cursor was dropped: the first page, with the admin's own sign-in on it
    assert "auth:password:success" in page.get_data(as_text=True)


def test_audit_cursor_past_32_bits_pages_on(client: FlaskClient, admin: User) -> None:
    """audit_events.id is BIGINT: a cursor past 2**31 is a real position, not page one."""
    page = client.get(f"/admin/audit?after=2026-01-01T00:00:00%2B00:00~{TOO_BIG}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<code>auth:password:success</code>" not in html and "No events." in html


# -- ids in URLs beyond the id columns (INTEGER: 32-bit on PostgreSQL) --------------------


@pytest.mark.parametrize("number", [TOO_BIG, str(2**63), HUGE])
def test_admin_ids_beyond_the_column_are_a_404(
    client: FlaskClient, admin: User, number: str
) -> None:
    assert client.get(f"/admin/users/{number}").status_code == 404
    for url in (
        f"/admin/users/{number}/disable",
        f"/admin/users/{number}/sessions/end-all",
        f"/admin/users/{admin.id}/sessions/{number}/end",
        f"/admin/users/{admin.id}/credentials/{number}/revoke",
        f"/admin/requests/{number}/approve",
    ):
        assert post(client, url).status_code == 404, url


def test_account_ids_beyond_the_column_are_a_404(
    client: FlaskClient, db: Session, app: Flask
) -> None:
    make_user(db, app, "alice")
    AuthActions(client).login()
    token = csrf_from(client.get("/account").get_data(as_text=True))
    for url in (
        f"/account/credentials/{TOO_BIG}/rename",
        f"/account/credentials/{TOO_BIG}/remove",
        f"/account/sessions/{HUGE}/end",
    ):
        resp = client.post(url, data={"csrf_token": token, "label": "x"})
        assert resp.status_code == 404, url


@pytest.mark.parametrize("number", [2**31 - 1, 2**32, 2**63 - 1, 2**63])
def test_ids_past_the_integer_column_are_a_404(
    client: FlaskClient, admin: User, number: int
) -> None:
    assert client.get(f"/admin/users/{number}").status_code == 404


# -- the audit page's links carry only its filter ----------------------------------------


@pytest.mark.parametrize(
    "extra",
    ["format=jsonl", "endpoint=x", "_method=POST", "values=1", "_external=1", "_anchor=top"],
)
def test_audit_links_carry_only_the_filter(client: FlaskClient, admin: User, extra: str) -> None:
    page = client.get(f"/admin/audit?outcome=success&{extra}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/admin/audit/export?format=csv&amp;outcome=success"' in html
    assert "http://localhost/admin" not in html and "#top" not in html


# -- WebAuthn: a lone surrogate in a JSON username ----------------------------------------


def test_passkey_options_for_a_lone_surrogate_username(
    client: FlaskClient, db: Session, app: Flask
) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))

    def options() -> dict[str, object]:
        resp = client.post(
            "/webauthn/login/options",
            data=b'{"username": "\\ud800x"}',
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        body: dict[str, object] = json.loads(resp.get_data())
        return body

    first, second = options(), options()
    # an unknown name: a decoy credential, the same one each time
    assert first["allowCredentials"] == second["allowCredentials"] != []


# -- a NUL in the User-Agent (stored in audit rows and sessions) --------------------------


def test_user_agent_with_nul_is_stored_without_it(
    client: FlaskClient, db: Session, app: Flask
) -> None:
    make_user(db, app, "alice")
    client.environ_base = {"HTTP_USER_AGENT": "Mozilla\x00evil", "REMOTE_ADDR": "203.0.113.5"}
    auth = AuthActions(client)
    assert auth.login("alice", "wrong password, quite long").status_code == 401
    assert auth.login("alice", PASSWORD).status_code == 303
    db.expire_all()
    rows = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.tag.in_([str(Event.PASSWORD_FAILURE), str(Event.PASSWORD_SUCCESS)]))
        .where(AuditEvent.address == "203.0.113.5")
        .order_by(AuditEvent.id)
    ).all()
    assert [r.outcome for r in rows] == ["failure", "success"]
    assert {r.user_agent for r in rows} == {"Mozillaevil"}

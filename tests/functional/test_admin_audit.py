"""Admin audit log: filters, pages, and the streamed CSV / JSON Lines export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import AuditEvent, User, utcnow
from tests.conftest import AuthActions, make_user
from tests.support.admin import admin_signed_in, age_sessions, events

FORMULA = "=cmd|' /C calc'!A0"
XSS_AGENT = "<script>alert(document.cookie)</script>"


@pytest.fixture
def admin(client: FlaskClient, db: Session, app: Flask) -> User:
    return admin_signed_in(client, db, app)


@pytest.fixture
def trail(db: Session, app: Flask, admin: User) -> User:
    """eve fails to sign in with hostile user agents; one of her events is a week old."""
    eve = make_user(db, app, "eve")
    attacker = app.test_client()
    for agent in (FORMULA, XSS_AGENT, "+SUM(1,2)"):
        attacker.environ_base = {"HTTP_USER_AGENT": agent, "REMOTE_ADDR": "203.0.113.9"}
        AuthActions(attacker).login("eve", "wrong password for eve")
    old = AuditEvent(
        tag="auth:passkey:failure",
        user_id=eve.id,
        method="passkey",
        outcome="failure",
        reason="cancelled",
        details={},
        created_at=utcnow() - timedelta(days=7),
    )
    db.add(old)
    db.commit()
    return eve


def rows_of(client: FlaskClient, query: str) -> list[str]:
    page = client.get(f"/admin/audit?{query}")
    assert page.status_code == 200, page.status_code
    return re.findall(r"<td><code>([^<]+)</code>", page.get_data(as_text=True))


def test_audit_log_lists_newest_first_and_escapes(client: FlaskClient, trail: User) -> None:
    page = client.get("/admin/audit").get_data(as_text=True)
    assert XSS_AGENT not in page
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page
    tags = re.findall(r"<td><code>([^<]+)</code>", page)
    assert tags[:3] == ["auth:password:failure"] * 3 and tags[-1] == "auth:passkey:failure"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user=eve&outcome=failure", ["auth:password:failure"] * 3 + ["auth:passkey:failure"]),
        ("user=EVE&method=passkey", ["auth:passkey:failure"]),
        ("event=auth:passkey:failure", ["auth:passkey:failure"]),
        ("user=eve&outcome=failure&since={today}", ["auth:password:failure"] * 3),
        ("user=eve&outcome=failure&until={week_ago}", ["auth:passkey:failure"]),
        ("user=nobody-at-all", []),
    ],
)
def test_audit_filters(client: FlaskClient, trail: User, query: str, expected: list[str]) -> None:
    today = utcnow().date()
    query = query.format(today=today.isoformat(), week_ago=(today - timedelta(days=7)).isoformat())
    assert rows_of(client, query) == expected


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-13-45",
        "event=nope",
        "method=telepathy",
        "outcome=maybe",
        "user=" + "x" * 65,
    ],
)
def test_audit_bad_filters_are_400_with_a_message(
    client: FlaskClient, admin: User, query: str
) -> None:
    resp = client.get(f"/admin/audit?{query}")
    assert resp.status_code == 400
    assert 'class="error"' in resp.get_data(as_text=True)


def test_audit_pages_continue_with_a_cursor(client: FlaskClient, admin: User, db: Session) -> None:
    now = utcnow()
    db.add_all(
        [
            AuditEvent(
                tag="auth:logout",
                outcome="success",
                details={},
                created_at=now - timedelta(seconds=n),
            )
            for n in range(60)
        ]
    )
    db.commit()
    first = client.get("/admin/audit?event=auth:logout").get_data(as_text=True)
    more = re.search(r'href="([^"]+)" rel="next"', first)
    assert more and first.count("<td><code>auth:logout</code>") == 50
    second = client.get(more.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert second.count("<td><code>auth:logout</code>") == 10 and 'rel="next"' not in second
    assert client.get("/admin/audit?after=garbage").status_code == 200


def test_csv_export_streams_the_filter_and_defuses_formulas(
    client: FlaskClient, trail: User, db: Session, admin: User
) -> None:
    resp = client.get("/admin/audit/export?format=csv&user=eve&event=auth:password:failure")
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "text/csv"
    assert re.fullmatch(
        r'attachment; filename="keystile-audit-\d{8}T\d{6}Z\.csv"',
        resp.headers["Content-Disposition"],
    )
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True), newline="")))
    assert [r["user_agent"] for r in rows] == ["'" + FORMULA, XSS_AGENT, "'+SUM(1,2)"]
    assert {r["username"] for r in rows} == {"eve"} and {r["reason"] for r in rows} == {
        "wrong_password"
    }
    audit = events(db, "admin:action")[-1]
    assert audit.actor_id == admin.id and audit.details["action"] == "audit_export"
    assert audit.details["filter"] == {"user": "eve", "event": "auth:password:failure"}


def test_jsonl_export_is_one_object_a_line(client: FlaskClient, trail: User) -> None:
    resp = client.get("/admin/audit/export?format=jsonl&user=eve&outcome=failure")
    assert resp.mimetype == "application/x-ndjson"
    items = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
    assert [i["tag"] for i in items] == ["auth:passkey:failure"] + ["auth:password:failure"] * 3
    assert items[1]["user_agent"] == FORMULA  # JSON needs no formula guard
    assert set(items[0]) == {
        "id",
        "created_at",
        "tag",
        "outcome",
        "method",
        "reason",
        "username",
        "user_id",
        "credential_id",
        "actor",
        "actor_id",
        "address",
        "user_agent",
        "request_id",
        "details",
    }


def test_export_links_carry_the_current_filter(client: FlaskClient, trail: User) -> None:
    page = client.get("/admin/audit?user=eve&outcome=failure").get_data(as_text=True)
    assert 'href="/admin/audit/export?format=csv&amp;user=eve&amp;outcome=failure"' in page


@pytest.mark.parametrize("query", ["format=xml", "format=csv&since=nope"])
def test_export_bad_requests(client: FlaskClient, admin: User, query: str) -> None:
    assert client.get(f"/admin/audit/export?{query}").status_code == 400


def test_export_needs_a_recent_sign_in(client: FlaskClient, admin: User, db: Session) -> None:
    age_sessions(db, admin)
    resp = client.get("/admin/audit/export?format=csv&user=eve")
    assert resp.status_code == 303 and "reauth=1" in resp.headers["Location"]
    assert "next=/admin/audit?user%3Deve" in resp.headers["Location"]
    assert events(db, "admin:action") == []

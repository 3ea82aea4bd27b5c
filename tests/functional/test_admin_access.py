"""Every admin page and action is for administrators only (threat model F.26)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from tests.conftest import AuthActions, csrf_from, make_user
from tests.support.admin import sign_in

PAGES = [
    "/admin/",
    "/admin/?days=90",
    "/admin/users",
    "/admin/users?filter=password-only",
    "/admin/users/1",
    "/admin/audit",
    "/admin/audit?outcome=failure",
    "/admin/audit/export?format=csv",
    "/admin/audit/export?format=jsonl",
    "/admin/requests",
]
ACTIONS = [
    "/admin/users/1/credentials/1/revoke",
    "/admin/users/1/sessions/1/end",
    "/admin/users/1/sessions/end-all",
    "/admin/users/1/disable",
    "/admin/users/1/enable",
    "/admin/requests/1/approve",
    "/admin/requests/1/reject",
]


@pytest.fixture
def bob(db: Session, app: Flask, alice: User) -> User:
    """A second user, so the ids in the URLs above name someone real (alice is #1)."""
    return make_user(db, app, "bob")


@pytest.mark.parametrize("path", PAGES)
def test_pages_refuse_a_signed_in_user(
    client: FlaskClient, auth: AuthActions, bob: User, path: str
) -> None:
    auth.login("bob")
    resp = client.get(path)
    assert resp.status_code == 403
    assert "not allowed" in resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ACTIONS)
def test_actions_refuse_a_signed_in_user(
    client: FlaskClient, auth: AuthActions, bob: User, db: Session, path: str
) -> None:
    auth.login("bob")
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 403
    db.expire_all()
    alice = db.get(User, 1)
    assert alice is not None and alice.status.value == "active"
    assert all(c.revoked_at is None for c in alice.credentials)


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_strangers_to_sign_in(client: FlaskClient, alice: User, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ACTIONS)
def test_actions_refuse_strangers(client: FlaskClient, alice: User, path: str) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 401


def test_administration_link_only_for_admins(
    client: FlaskClient, db: Session, app: Flask, auth: AuthActions, alice: User
) -> None:
    auth.login()
    assert 'href="/admin/"' not in client.get("/account").get_data(as_text=True)
    auth.logout()
    make_user(db, app, "root", admin=True)
    sign_in(client, "root")
    page = client.get("/account").get_data(as_text=True)
    assert '<a href="/admin/">Administration</a>' in page
    sub = client.get("/admin/users").get_data(as_text=True)
    assert 'aria-label="Administration"' in sub and 'href="/admin/users" aria-current="page"' in sub

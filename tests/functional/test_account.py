"""The account page: credentials, password change, sessions, notices."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, AuthSession, Credential, Notice, User
from tests.conftest import PASSWORD, AuthActions, csrf_from
from tests.support.sessions import age_sessions

NEW = "another long passphrase for the lake house"


def _change(client: FlaskClient, current: str, new: str) -> tuple[int, str]:
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "csrf_token": token},
    )
    return resp.status_code, resp.get_data(as_text=True)


def test_account_page_lists_credentials_sessions_and_sign_ins(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    assert auth.login(password="not the password at all").status_code == 401
    auth.login()
    page = client.get("/account").get_data(as_text=True)
    assert "Password" in page and "(this browser)" in page
    assert "<td>signed in</td>" in page and "<td>sign-in refused: wrong password</td>" in page


def test_account_requires_sign_in(client: FlaskClient) -> None:
    resp = client.get("/account")
    assert resp.status_code == 302 and "/login?next=/account" in resp.headers["Location"]


def test_change_password_needs_current(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    auth.login()
    status, body = _change(client, "wrong current password", NEW)
    assert status == 400 and "current password is not correct" in body
    status, body = _change(client, PASSWORD, "password")
    assert status == 400
    status, _ = _change(client, PASSWORD, NEW)
    assert status == 303
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 401
    assert auth.login(password=NEW).status_code == 303
    notice = db.scalar(
        select(Notice).where(Notice.user_id == alice.id, Notice.tag == "account:password:changed")
    )
    assert notice is not None


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("passwordpassword", id="common-word-twice"),
        pytest.param("alice in wonderland 1865", id="holds-the-username"),
        pytest.param("WendyMarsh2026!", id="display-name-and-year"),
    ],
)
def test_change_password_refuses_guessable_passwords(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session, weak: str
) -> None:
    """SP 800-63B-4 §3.1.1.2's blocklist with context words, on the password change."""
    alice.display_name = "Wendy Marsh"
    db.commit()
    auth.login()
    status, body = _change(client, PASSWORD, weak)
    assert status == 400
    assert re.search(
        r'id="new_password-error">(This password would be easy to guess|Leave your '
        r"username out)",
        body,
    )
    auth.logout()
    assert auth.login(password=weak).status_code == 401
    assert auth.login(password=PASSWORD).status_code == 303


def test_change_password_shows_every_problem_at_once(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    """A wrong current password and a too-short new one: both fields say what is wrong in the
    same answer, not the second only once the first is put right; nothing changes."""
    auth.login()
    status, body = _change(client, "wrong current password", "short")
    assert status == 400
    assert re.search(r'id="current_password-error">Your current password is not correct', body)
    assert re.search(r'id="new_password-error">Use at least \d+ characters', body)
    status, body = _change(client, "wrong current password", NEW)
    assert status == 400 and 'id="new_password-error"' not in body
    refused = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == "account:password:change_failure")
    ).all()
    assert [r.reason for r in refused] == ["wrong_current_password"] * 2
    auth.logout()
    assert auth.login(password=PASSWORD).status_code == 303


def test_change_password_needs_recent_sign_in(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    auth.login()
    age_sessions(db, "created_at", timedelta(hours=1))
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "csrf_token": token},
    )
    assert resp.status_code == 302 and "reauth=1" in resp.headers["Location"]


def test_last_credential_cannot_be_removed(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    auth.login()
    cred = db.scalar(select(Credential).where(Credential.user_id == alice.id))
    assert cred is not None
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post(
        f"/account/credentials/{cred.id}/remove", data={"csrf_token": token}, follow_redirects=True
    )
    assert "only way to sign in" in resp.get_data(as_text=True)
    db.expire_all()
    assert db.get(Credential, cred.id).revoked_at is None  # type: ignore[union-attr]
    refused = db.scalar(select(AuditEvent).where(AuditEvent.tag == "account:credential:refused"))
    assert refused is not None and refused.reason == "last_credential"


def test_cannot_touch_someone_elses_credential(
    app: Flask, client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    from tests.conftest import make_user

    bob = make_user(db, app, "bob")
    bobs = db.scalar(select(Credential).where(Credential.user_id == bob.id))
    assert bobs is not None
    auth.login()
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert (
        client.post(
            f"/account/credentials/{bobs.id}/remove", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/account/credentials/{bobs.id}/rename", data={"csrf_token": token, "label": "mine"}
        ).status_code
        == 404
    )


def test_sign_out_everywhere_ends_every_session(
    app: Flask, client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    other = AuthActions(app.test_client())
    other.login()
    auth.login()
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post("/account/sessions/end-all", data={"csrf_token": token})
    assert resp.status_code == 303
    assert not auth.is_signed_in()
    assert not other.is_signed_in()


def test_end_one_other_session(
    app: Flask, client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    other = AuthActions(app.test_client())
    other.login()
    auth.login()
    first = db.scalar(select(AuthSession).order_by(AuthSession.id))
    assert first is not None
    token = csrf_from(client.get("/account").get_data(as_text=True))
    assert (
        client.post(f"/account/sessions/{first.id}/end", data={"csrf_token": token}).status_code
        == 303
    )
    assert not other.is_signed_in()
    assert auth.is_signed_in()


def test_idle_and_absolute_timeouts(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    auth.login()
    age_sessions(db, "last_seen_at", timedelta(minutes=31))
    assert not auth.is_signed_in()
    auth.login()
    age_sessions(db, "expires_at", timedelta(hours=12))
    assert not auth.is_signed_in()

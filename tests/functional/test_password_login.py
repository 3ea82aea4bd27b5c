"""Password sign-in, sessions and logout through the Flask test client."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, AuthSession, User
from tests.conftest import PASSWORD, AuthActions, without_csrf


def test_sign_in_sets_host_cookie_and_reports_session(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    resp = auth.login()
    assert resp.status_code == 303
    cookie = next(
        h for h in resp.headers.getlist("Set-Cookie") if h.startswith("__Host-keystile-session=")
    )
    for attr in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attr in cookie
    assert "Domain" not in cookie
    data = auth.session()
    assert data["authenticated"] is True
    assert data["username"] == "alice"
    assert data["method"] == "password"
    assert isinstance(data["credential_id"], int)


def test_signed_out_session_api_is_401(client: FlaskClient) -> None:
    resp = client.get("/api/session")
    assert resp.status_code == 401
    assert resp.get_json() == {"authenticated": False}


def test_username_compared_after_normalisation(auth: AuthActions, alice: User) -> None:
    assert auth.login(username="ALİCE".replace("İ", "I")).status_code == 303
    assert auth.session()["username"] == "alice"


def test_unknown_user_and_wrong_password_look_the_same(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    wrong = auth.login(username="alice", password="not the password at all")
    unknown = auth.login(username="alicia", password="not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert without_csrf(wrong.get_data(as_text=True)).replace("alice", "X") == without_csrf(
        unknown.get_data(as_text=True)
    ).replace("alicia", "X")
    assert "do not match an account" in wrong.get_data(as_text=True)


def test_failures_are_audited_with_reason(auth: AuthActions, alice: User, db: Session) -> None:
    auth.login(password="wrong password here!")
    auth.login(username="nobody")
    rows = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == "auth:password:failure").order_by(AuditEvent.id)
    ).all()
    assert [(r.reason, r.user_id is not None) for r in rows] == [
        ("wrong_password", True),
        ("unknown_user", False),
    ]
    assert rows[1].details == {"username": "nobody"}
    assert all(r.method == "password" and r.outcome == "failure" for r in rows)


def test_success_audited_once(auth: AuthActions, alice: User, db: Session) -> None:
    auth.login()
    rows = db.scalars(select(AuditEvent).where(AuditEvent.tag == "auth:password:success")).all()
    assert len(rows) == 1 and rows[0].user_id == alice.id and rows[0].credential_id is not None


def test_new_session_id_at_every_sign_in(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    auth.login()
    first = client.get_cookie("__Host-keystile-session")
    assert first is not None
    auth.login()
    second = client.get_cookie("__Host-keystile-session")
    assert second is not None and second.value != first.value
    rows = db.scalars(select(AuthSession).order_by(AuthSession.id)).all()
    assert rows[0].revoked_at is not None and rows[1].revoked_at is None


def test_logout_ends_server_session_and_replay_fails(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    auth.login()
    cookie = client.get_cookie("__Host-keystile-session")
    assert cookie is not None
    old = cookie.value
    resp = auth.logout()
    assert resp.status_code == 303
    assert not auth.is_signed_in()
    client.set_cookie("__Host-keystile-session", old, domain="localhost", secure=True)
    assert client.get("/api/session").status_code == 401


def test_disabled_user_cannot_sign_in(auth: AuthActions, alice: User, db: Session) -> None:
    from app.models import UserStatus

    alice = db.get(User, alice.id)  # type: ignore[assignment]
    alice.status = UserStatus.DISABLED
    db.commit()
    assert auth.login().status_code == 401


def test_login_without_csrf_is_refused(client: FlaskClient, alice: User) -> None:
    resp = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 400
    assert "expired or came from elsewhere" in resp.get_data(as_text=True)


def test_open_redirect_refused(auth: AuthActions, alice: User) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        token = auth.csrf()
        resp = auth.client.post(
            f"/login?next={target}",
            data={"username": "alice", "password": PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 303
        assert resp.headers["Location"] == "/account", target


def test_next_path_kept(auth: AuthActions, alice: User) -> None:
    token = auth.csrf()
    resp = auth.client.post(
        "/login?next=/account%3Fx%3D1",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] == "/account?x=1"


def _title(resp: Any) -> str:
    match = re.search(r"<title>(.*?)</title>", resp.get_data(as_text=True), re.S)
    assert match is not None
    return match.group(1)


def test_a_page_whose_form_has_errors_says_so_in_its_title(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    """Screen readers announce the title first (WCAG 2.2 SC 3.3.1)."""
    assert _title(client.get("/login")) == "Sign in · Keystile"
    assert _title(auth.login(password="wrong password here")) == "Error: Sign in · Keystile"
    assert (
        _title(client.post("/request-account", data={"csrf_token": auth.csrf("/request-account")}))
        == "Error: Request an account · Keystile"
    )
    assert _title(client.get("/no-such-page")) == "Error 404 · Keystile"

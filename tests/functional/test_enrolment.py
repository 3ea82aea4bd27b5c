"""Account requests, approval by an admin, and one-time enrolment links."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccountRequest, AuditEvent, User
from app.models.base import utcnow
from app.services import accounts
from app.services.audit import SYSTEM
from tests.conftest import PASSWORD, AuthActions, csrf_from, make_user, without_csrf


def _request(client: FlaskClient, username: str, email: str = "new@example.org") -> str:
    token = csrf_from(client.get("/request-account").get_data(as_text=True))
    resp = client.post(
        "/request-account",
        data={
            "username": username,
            "display_name": "New Person",
            "email": email,
            "message": "<script>alert(1)</script>",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_request_answers_the_same_for_taken_and_free_names(
    client: FlaskClient, alice: User, db: Session
) -> None:
    free = _request(client, "newperson")
    taken = _request(client, "alice")
    assert without_csrf(free) == without_csrf(taken)
    assert "administrator will review" in free
    assert db.scalar(select(AccountRequest).where(AccountRequest.username == "alice"))
    # A request for a taken name never binds anything to the existing account (F.25).
    assert len(db.get(User, alice.id).active_credentials()) == 1  # type: ignore[union-attr]


def test_bad_request_fields_get_clear_errors(client: FlaskClient) -> None:
    token = csrf_from(client.get("/request-account").get_data(as_text=True))
    resp = client.post(
        "/request-account", data={"username": "bad name!", "email": "x", "csrf_token": token}
    )
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert 'aria-invalid="true"' in body and "Use 1 to 64 letters" in body
    # Both fields are wrong, and both say so at once.
    assert body.count('aria-invalid="true"') == 2 and 'id="email-error"' in body
    # The first of them takes the focus, and only it.
    assert body.count(" autofocus") == 1
    assert re.search(
        r'<input[^>]*autofocus[^>]*id="username"|<input[^>]*id="username"[^>]*'
        r"autofocus",
        body,
    )


def test_admin_approves_and_user_enrols_with_password(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    make_user(db, app, "root", admin=True)
    _request(client, "newperson")
    auth = AuthActions(client)
    assert auth.login(username="root").status_code == 303
    page = client.get("/admin/requests").get_data(as_text=True)
    assert "newperson" in page and "&lt;script&gt;" in page
    assert "Account requests (1 waiting)" in page
    req = db.scalar(select(AccountRequest).where(AccountRequest.username == "newperson"))
    assert req is not None
    resp = client.post(f"/admin/requests/{req.id}/approve", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 200
    link = re.search(r'value="(https://localhost/enroll/[^"]+)"', resp.get_data(as_text=True))
    assert link
    path = link.group(1).removeprefix("https://localhost")
    auth.logout()

    form = client.get(path)
    assert form.status_code == 200
    token = csrf_from(form.get_data(as_text=True))
    short = client.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert short.status_code == 400 and "at least 15 characters" in short.get_data(as_text=True)
    typo = client.post(
        path, data={"password": PASSWORD, "confirm": PASSWORD + "x", "csrf_token": token}
    )
    assert typo.status_code == 400
    assert 'id="confirm-error">The two passwords are not the same.' in typo.get_data(as_text=True)
    done = client.post(path, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token})
    assert done.status_code == 303
    assert auth.session()["username"] == "newperson"
    # The link works once; a second visit says what to do instead.
    again = client.get(path)
    assert again.status_code == 404 and "This set-up link no longer works" in again.get_data(
        as_text=True
    )
    tags = [e.tag for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "account:request:approved" in tags and "account:credential:added" in tags


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("passwordpassword", id="common-word-twice"),
        pytest.param("newperson is my name", id="holds-the-username"),
        pytest.param("newperson@example.org", id="the-e-mail-address"),
        pytest.param("keystilepassword", id="site-name-and-common-word"),
    ],
)
def test_enrolment_refuses_guessable_passwords(
    app: Flask, client: FlaskClient, db: Session, weak: str
) -> None:
    """SP 800-63B-4 §3.1.1.2's blocklist with context words, on the enrolment link; the link
    is not spent by a refused password."""
    with app.app_context():
        user = make_user(db, app, "newperson", password=None)
        secret = accounts.issue_enrolment_link(db, user, client=SYSTEM, now=utcnow())
        db.commit()
    path = f"/enroll/{secret}"
    token = csrf_from(client.get(path).get_data(as_text=True))
    resp = client.post(path, data={"password": weak, "confirm": weak, "csrf_token": token})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(
        r'id="password-error">(This password would be easy to guess|Leave your '
        r"username out)",
        body,
    ), body
    assert (
        client.post(
            path, data={"password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
        ).status_code
        == 303
    )


def test_non_admin_cannot_see_or_decide_requests(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    auth.login()
    assert client.get("/admin/requests").status_code == 403
    token = auth.csrf("/account")
    assert client.post("/admin/requests/1/approve", data={"csrf_token": token}).status_code == 403


def test_unknown_enrolment_token_is_404(client: FlaskClient) -> None:
    assert client.get("/enroll/not-a-real-token").status_code == 404
    assert client.get("/enroll/" + "x" * 5000).status_code == 404

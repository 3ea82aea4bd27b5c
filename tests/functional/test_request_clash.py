"""An account request for a taken username: the visitor's answer gives nothing away, the
administrator sees the clash and approves under another name, and the person is told
(issue 15, item 5)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccountRequest, AuditEvent, Notice, User
from tests.conftest import PASSWORD, AuthActions, csrf_from, make_user, without_csrf


def _ask(client: FlaskClient, username: str) -> str:
    token = csrf_from(client.get("/request-account").get_data(as_text=True))
    resp = client.post(
        "/request-account",
        data={
            "username": username,
            "display_name": "Alice Other",
            "email": "other@example.org",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _request_id(db: Session, username: str) -> int:
    row = db.scalar(select(AccountRequest).where(AccountRequest.username == username))
    assert row is not None
    return row.id


def test_a_taken_username_is_shown_and_approved_under_another(
    app: Flask, client: FlaskClient, db: Session, alice: User
) -> None:
    visitor = app.test_client()
    assert without_csrf(_ask(visitor, "alice")) == without_csrf(_ask(visitor, "freshname"))
    make_user(db, app, "root", admin=True)
    AuthActions(client).login(username="root")
    taken, free = _request_id(db, "alice"), _request_id(db, "freshname")

    page = client.get("/admin/requests").get_data(as_text=True)
    assert f'id="request-{taken}-taken">username taken' in page
    assert f'id="request-{free}-taken"' not in page
    assert f'<label for="username-{taken}">Approve as</label>' in page

    # Approving it as asked says which request failed, and why.
    resp = client.post(
        f"/admin/requests/{taken}/approve",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "The request for alice was not approved: That username is taken." in resp.get_data(
        as_text=True
    )

    resp = client.post(
        f"/admin/requests/{taken}/approve",
        data={"csrf_token": csrf_from(page), "username": "alice.other"},
    )
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and 'id="renamed"' in body
    assert "<strong>alice</strong>, which was taken: their username is <strong>alice.other" in (
        body
    )
    made = db.scalar(select(User).where(User.username == "alice.other"))
    assert made is not None and made.email == "other@example.org"
    [notice] = db.scalars(select(Notice).where(Notice.user_id == made.id)).all()
    assert "approved with the username alice.other" in notice.message
    approved = db.scalars(
        select(AuditEvent).where(AuditEvent.tag == "account:request:approved")
    ).all()
    assert approved[-1].details == {"request_id": taken, "requested_username": "alice"}
    # The existing alice is untouched, and the set-up page greets the new name.
    assert db.get(User, alice.id).email == "alice@example.org"  # type: ignore[union-attr]
    link = re.search(r'value="https://localhost(/enroll/[^"]+)"', body)
    assert link
    AuthActions(client).logout()
    assert "sign in as <strong>alice.other</strong>" in client.get(link.group(1)).get_data(
        as_text=True
    )
    # the old account still signs in with its own password
    assert AuthActions(client).login(username="alice", password=PASSWORD).status_code == 303


def test_the_cli_approves_under_another_username(
    app: Flask, db: Session, alice: User, client: FlaskClient
) -> None:
    _ask(client, "alice")
    result = app.test_cli_runner().invoke(
        args=["request", "approve", str(_request_id(db, "alice")), "--username", "alice2"]
    )
    assert result.exit_code == 0, result.output
    assert "created alice2" in result.output

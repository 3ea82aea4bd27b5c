"""The page that asks to confirm it is you says so once, and offers only the ways in the
person holds (issue 15, item 13)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import AccountRequest, User
from tests.conftest import AuthActions, csrf_from, make_user
from tests.support import factories
from tests.support.admin import admin_signed_in, age_sessions


def _main(page: str) -> str:
    return page.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def test_a_password_only_admin_is_asked_once_and_told_nothing_of_keys(
    client: FlaskClient, db: Session, app: Flask
) -> None:
    root = admin_signed_in(client, db, app)
    db.add(AccountRequest(username="bob", username_normalized="bob", email="b@example.org"))
    db.commit()
    age_sessions(db, root, timedelta(hours=1))
    page = client.get("/admin/requests").get_data(as_text=True)
    resp = client.post(
        "/admin/requests/1/reject", data={"csrf_token": csrf_from(page)}, follow_redirects=True
    )
    main = _main(resp.get_data(as_text=True))
    assert main.count("<h1>Confirm it is you</h1>") == 1
    assert 'id="reauth-intro">For this change, sign in again.</p>' in main
    assert 'class="flash' not in main  # no flash saying the same again
    assert "security key" not in main.lower() and "passkey" not in main.lower()
    assert 'id="password-form"' in main and 'id="certificate-heading"' not in main


def test_someone_with_a_security_key_gets_the_key_advice(
    client: FlaskClient, auth: AuthActions, db: Session, app: Flask
) -> None:
    alice = make_user(db, app, "alice")
    factories.passkey(db, alice, synced=False)  # usb: a security key
    auth.login()
    main = _main(client.get("/login?reauth=1&next=/account").get_data(as_text=True))
    assert 'use "Use a security key for this username"' in main
    assert 'id="security-key-signin"' in main and 'id="passkey-signin"' in main


def test_signed_out_every_way_is_offered(client: FlaskClient, alice: User) -> None:
    main = _main(client.get("/login").get_data(as_text=True))
    for marker in (
        'id="passkey-signin"',
        'id="password-form"',
        'id="security-key-signin"',
        'id="certificate-heading"',
    ):
        assert marker in main

"""A first password for an account that signs in with a certificate or a passkey: the account
page offers it, the same rules as everywhere apply, and the step-up holds (threat model F.24)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import User
from tests.conftest import AuthActions, csrf_from, make_user
from tests.support import factories
from tests.support.pki import Pki
from tests.support.proxied import PROXY, events, pin, via_proxy

NEW = "a new and long enough passphrase"


def passwords_added(db: Session) -> list[int | None]:
    return [e.user_id for e in events(db, "account:credential:added") if e.method == "password"]


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"trusted_proxies": PROXY, "cert_login": "auto"}


@pytest.fixture
def carol(db: Session, app: Flask, pki: Pki) -> User:
    """Signs in only with a pinned certificate."""
    user = make_user(db, app, "carol", password=None)
    pin(db, user, pki.self_signed.cert)
    return user


def add(client: FlaskClient, password: str, confirm: str | None = None) -> Any:
    token = csrf_from(client.get("/account").get_data(as_text=True))
    return client.post(
        "/account/password/add",
        data={
            "password": password,
            "confirm": password if confirm is None else confirm,
            "csrf_token": token,
        },
    )


def test_a_certificate_user_adds_a_password_and_signs_in_with_it(
    client: FlaskClient, auth: AuthActions, carol: User, db: Session, pki: Pki
) -> None:
    assert client.get("/login", **via_proxy(pki.self_signed.cert)).status_code == 303
    page = client.get("/account").get_data(as_text=True)
    assert 'action="/account/password/add"' in page
    resp = add(client, NEW, "something else entirely")
    assert resp.status_code == 400 and "The two passwords are not the same." in resp.get_data(
        as_text=True
    )
    resp = add(client, "short")
    assert resp.status_code == 400 and "at least 8" in resp.get_data(as_text=True)
    assert passwords_added(db) == []
    assert add(client, NEW).status_code == 303
    assert passwords_added(db) == [carol.id]
    assert 'action="/account/password/add"' not in client.get("/account").get_data(as_text=True)
    assert add(client, "yet another long passphrase").status_code == 303  # already has one
    assert passwords_added(db) == [carol.id]
    auth.logout()
    assert auth.login("carol", NEW).status_code == 303


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("passwordpassword", id="common-word-twice"),
        pytest.param("carol2026carol", id="holds-the-username"),
    ],
)
def test_a_guessable_first_password_is_refused(
    client: FlaskClient, carol: User, db: Session, pki: Pki, weak: str
) -> None:
    """SP 800-63B-4 §3.1.1.2's blocklist with context words, on the account page too."""
    assert client.get("/login", **via_proxy(pki.self_signed.cert)).status_code == 303
    resp = add(client, weak)
    assert resp.status_code == 400
    assert re.search(
        r'id="password-error">(This password would be easy to guess|Leave your '
        r"username out)",
        resp.get_data(as_text=True),
    )
    assert passwords_added(db) == []


def test_adding_a_password_needs_a_sign_in_as_strong_as_the_account_s_best(
    client: FlaskClient, carol: User, db: Session, pki: Pki
) -> None:
    factories.passkey(db, carol, synced=False, attested=True)
    assert client.get("/login", **via_proxy(pki.self_signed.cert)).status_code == 303
    resp = add(client, NEW)
    assert resp.status_code == 302 and "reauth=1" in resp.headers["Location"]
    assert passwords_added(db) == []
    # The sign-in page that asks for it knows who is confirming.
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Confirm it is you" in page and 'value="carol"' in page
    assert "Request an account" not in page


def test_a_key_flagged_as_a_copy_sets_no_bar(
    client: FlaskClient, carol: User, db: Session, pki: Pki
) -> None:
    """It is refused at every sign-in, so no one could meet its level: the owner adds a
    password and removes it with the certificate session they have."""
    flagged = factories.passkey(db, carol, synced=False, attested=True, clone_flagged=True)
    assert client.get("/login", **via_proxy(pki.self_signed.cert)).status_code == 303
    assert add(client, NEW).status_code == 303
    token = csrf_from(client.get("/account").get_data(as_text=True))
    resp = client.post(f"/account/credentials/{flagged.id}/remove", data={"csrf_token": token})
    assert resp.status_code == 303 and "reauth" not in resp.headers["Location"]
    db.expire_all()
    assert db.get(type(flagged), flagged.id).revoked_at is not None  # type: ignore[union-attr]

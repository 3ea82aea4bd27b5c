"""Device tokens (issue #17): a browser that signed in to an account before is not locked
out by others' wrong passwords for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import AuditEvent, DeviceToken, User, utcnow
from app.web.devices import COOKIE
from tests.conftest import PASSWORD, AuthActions, csrf_from, make_user, sign_in

PROXY = "10.0.0.1"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {
        "login_limit_per_account": "3/minute",
        "login_limit_per_address": "5/minute",
        "login_limit_per_device": "2/minute",
        "trusted_proxies": PROXY,
    }


def flood(app: Flask, username: str, guesses: int) -> list[int]:
    """Wrong passwords for ``username`` from many addresses, each a new browser: half
    straight from the client's address, half through the trusted proxy."""
    statuses = []
    for n in range(guesses):
        client = app.test_client()
        if n % 2:
            env = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"203.0.113.{n}"}
        else:
            env = {"REMOTE_ADDR": f"192.0.2.{n}"}
        page = client.get("/login", environ_base=env).get_data(as_text=True)
        statuses.append(
            client.post(
                "/login",
                environ_base=env,
                data={
                    "username": username,
                    "password": f"guess {n} is wrong",
                    "csrf_token": csrf_from(page),
                },
            ).status_code
        )
    return statuses


def signed_in_before(client: FlaskClient) -> None:
    """The owner's browser: signed in once (so it holds a token), then signed out."""
    assert sign_in(client) == 303
    assert AuthActions(client).logout().status_code == 303


def test_a_sign_in_issues_a_token_in_a_host_cookie(
    client: FlaskClient, alice: User, db: Session
) -> None:
    page = client.get("/login").get_data(as_text=True)
    resp = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": csrf_from(page)}
    )
    assert resp.status_code == 303
    header = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith(COOKIE + "="))
    attributes = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
    assert {"secure", "httponly", "samesite", "path", "max-age"} <= attributes
    assert "domain" not in attributes and "SameSite=Lax" in header and "Path=/" in header
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    token = db.scalar(select(DeviceToken))
    assert token is not None and token.user_id == alice.id
    assert token.expires_at - token.created_at == timedelta(days=180)
    assert cookie.value.count(".") >= 1 and token.secret_hash not in cookie.value
    # signing in again from the same browser keeps its token
    assert sign_in(client) == 303
    assert db.scalar(select(func.count()).select_from(DeviceToken)) == 1


def test_the_owner_with_a_token_signs_in_while_the_account_is_under_attack(
    app: Flask, client: FlaskClient, alice: User
) -> None:
    signed_in_before(client)
    assert flood(app, "alice", 10) == [401] * 3 + [429] * 7  # the account's limit holds
    assert sign_in(client, address="198.51.100.99") == 303  # the owner is not locked out
    assert sign_in(app.test_client(), address="198.51.100.98") == 429  # a new browser is


def test_a_token_has_its_own_small_allowance(app: Flask, client: FlaskClient, alice: User) -> None:
    signed_in_before(client)
    assert [sign_in(client, password="wrong wrong") for _ in range(3)] == [401, 401, 429]
    # the account's own limit was not spent by the token's guesses
    assert [
        sign_in(app.test_client(), password="wrong", address=f"192.0.2.{n}") for n in range(4)
    ] == [401, 401, 401, 429]


def test_another_accounts_token_does_not_count(
    app: Flask, client: FlaskClient, alice: User, db: Session
) -> None:
    make_user(db, app, "bob")
    assert sign_in(client, "bob") == 303  # this browser holds bob's token only
    flood(app, "alice", 4)
    assert sign_in(client) == 429


def test_a_tampered_token_does_not_count(app: Flask, client: FlaskClient, alice: User) -> None:
    signed_in_before(client)
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    client.set_cookie(
        COOKIE,
        cookie.value[:-2] + ("AA" if cookie.value[-2:] != "AA" else "BB"),
        domain="localhost",
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    flood(app, "alice", 4)
    assert sign_in(client) == 429


def test_an_expired_token_does_not_count(
    app: Flask, client: FlaskClient, alice: User, db: Session
) -> None:
    signed_in_before(client)
    db.execute(update(DeviceToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    flood(app, "alice", 4)
    assert sign_in(client) == 429


def test_the_account_page_lists_and_revokes_tokens(
    app: Flask, client: FlaskClient, alice: User, db: Session
) -> None:
    assert sign_in(client) == 303
    page = client.get("/account").get_data(as_text=True)
    assert "Browsers that signed in before" in page and "Chrome on Linux" in page
    token = db.scalar(select(DeviceToken))
    assert token is not None
    # without the CSRF token: refused, nothing forgotten
    assert client.post(f"/account/devices/{token.id}/forget").status_code == 400
    resp = client.post(f"/account/devices/{token.id}/forget", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 303
    assert db.scalar(select(func.count()).select_from(DeviceToken)) == 0
    row = db.scalar(select(AuditEvent).where(AuditEvent.tag == "account:devices:forgotten"))
    assert row is not None and row.user_id == alice.id and row.details == {"count": 1}
    # revoked: the browser counts as a new one again
    AuthActions(client).logout()
    flood(app, "alice", 4)
    assert sign_in(client) == 429


def test_someone_elses_token_cannot_be_revoked(
    app: Flask, client: FlaskClient, alice: User, db: Session
) -> None:
    make_user(db, app, "bob")
    assert sign_in(app.test_client(), "bob") == 303
    bobs = db.scalar(select(DeviceToken))
    assert bobs is not None
    assert sign_in(client) == 303
    page = client.get("/account").get_data(as_text=True)
    resp = client.post(f"/account/devices/{bobs.id}/forget", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 404
    db.expire_all()
    assert db.get(DeviceToken, bobs.id) is not None


@pytest.mark.parametrize(("ticked", "left"), [(False, 1), (True, 0)])
def test_sign_out_everywhere_ends_tokens_only_when_asked(
    client: FlaskClient, alice: User, db: Session, ticked: bool, left: int
) -> None:
    assert sign_in(client) == 303
    page = client.get("/account").get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), **({"forget_devices": "1"} if ticked else {})}
    assert client.post("/account/sessions/end-all", data=data).status_code == 303
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(DeviceToken)) == left


def test_a_browser_keeps_tokens_for_several_accounts(
    app: Flask, client: FlaskClient, alice: User, db: Session
) -> None:
    make_user(db, app, "bob")
    assert sign_in(client, "bob") == 303
    AuthActions(client).logout()
    assert sign_in(client) == 303
    AuthActions(client).logout()
    flood(app, "alice", 4)
    flood(app, "bob", 4)
    assert sign_in(client) == 303
    AuthActions(client).logout()
    assert sign_in(client, "bob") == 303

"""The one CSRF check (app/web/csrf.py), for forms, JSON requests and the sign-in edge.

Every test runs with the sign-in edge and without it (tests/functional/conftest.py): the
passkey options request is answered by the edge in the first run and by Flask in the
second, and both must judge a token alike.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer

from app.models import User
from app.web import csrf
from tests.conftest import PASSWORD, csrf_from

OLD_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
NEW_KEY = "rotated-secret-key-0123456789abcdefghijklmnopqrstuvw"


def page_token(client: FlaskClient) -> str:
    return csrf_from(client.get("/login").get_data(as_text=True))


def options(client: FlaskClient, token: str, header: str = "X-CSRFToken") -> Any:
    return client.post(
        "/webauthn/login/options",
        data=b"{}",
        headers={header: token, "Content-Type": "application/json"},
    )


def password_login(client: FlaskClient, token: str) -> Any:
    return client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )


def rotate(app: Flask, *fallbacks: str) -> None:
    app.config["SECRET_KEY"] = NEW_KEY
    app.config["SECRET_KEY_FALLBACKS"] = list(fallbacks)


def cookie_secret(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie("__Host-keystile")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    secret = serializer.loads(cookie.value)[csrf.SESSION_KEY]
    assert isinstance(secret, str)
    return secret


def test_an_open_page_keeps_working_across_a_key_rotation(
    app: Flask, client: FlaskClient, alice: User
) -> None:
    """Issue 14: the old key in ``SECRET_KEY_FALLBACKS`` keeps the tokens (and the cookie
    sessions) it signed valid, for JSON requests and forms alike."""
    token = page_token(client)
    rotate(app, OLD_KEY)
    resp = options(client, token)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["challenge"]
    assert password_login(client, token).status_code == 303
    assert client.get("/api/session").get_json()["username"] == "alice"


def test_a_token_of_a_key_no_longer_trusted_is_refused(
    app: Flask, client: FlaskClient, alice: User
) -> None:
    token = page_token(client)
    rotate(app)  # the old key dropped from the fallbacks
    resp = options(client, token)
    assert resp.status_code == 400 and resp.get_json()["error"] == "csrf"
    page = password_login(client, token)
    assert page.status_code == 400 and b"Your form expired" in page.data
    assert client.get("/api/session").status_code == 401


def test_new_pages_are_signed_with_the_new_key(app: Flask, client: FlaskClient) -> None:
    page_token(client)
    rotate(app, OLD_KEY)
    token = page_token(client)
    assert URLSafeTimedSerializer(NEW_KEY, salt=csrf.SALT).loads(token) == cookie_secret(
        app, client
    )
    assert options(client, token).status_code == 200


@pytest.mark.parametrize(
    "case", ["foreign key", "other browser", "empty", "garbage", "not a string"]
)
def test_a_token_that_does_not_name_this_browser_s_secret_is_refused(
    case: str, app: Flask, client: FlaskClient
) -> None:
    mine = page_token(client)
    secret = cookie_secret(app, client)
    token = {
        "foreign key": URLSafeTimedSerializer("some other key", salt=csrf.SALT).dumps(secret),
        "other browser": page_token(app.test_client()),
        "empty": "",
        "garbage": mine[:-3] + "abc",
        "not a string": URLSafeTimedSerializer(OLD_KEY, salt=csrf.SALT).dumps([secret]),
    }[case]
    resp = options(client, token)
    assert resp.status_code == 400 and resp.get_json()["error"] == "csrf"
    assert options(client, mine).status_code == 200  # the page's own token still works


def test_the_second_header_name_is_accepted_too(client: FlaskClient) -> None:
    assert options(client, page_token(client), header="X-CSRF-Token").status_code == 200


def test_a_token_without_a_cookie_session_is_refused(app: Flask, client: FlaskClient) -> None:
    token = page_token(client)
    client.delete_cookie("__Host-keystile", domain="localhost")
    resp = options(client, token)
    assert resp.status_code == 400 and resp.get_json()["error"] == "csrf"


def test_check_csrf_reads_the_config_it_is_given(app: Flask) -> None:
    """The keys are read on every call: a rotation needs no restart of the reader."""
    signed = URLSafeTimedSerializer(OLD_KEY, salt=csrf.SALT).dumps("s3cret")
    assert csrf.check_csrf(app, signed, {"csrf_token": "s3cret"})
    assert not csrf.check_csrf(app, signed, {"csrf_token": "other"})
    assert not csrf.check_csrf(app, signed, {})
    rotate(app)
    assert not csrf.check_csrf(app, signed, {"csrf_token": "s3cret"})
    rotate(app, "unrelated", OLD_KEY)
    assert csrf.check_csrf(app, signed, {"csrf_token": "s3cret"})

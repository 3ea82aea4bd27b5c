"""Rotating ``KEYSTILE_SECRET_KEY``: the cookie session signed with the previous key (CSRF
token, ceremony state) stays readable while that key is listed in
``KEYSTILE_SECRET_KEY_FALLBACKS``, and is signed with the new key when it is next written."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session
from flask_wtf.csrf import generate_csrf

from tests.conftest import make_app

OLD = "Zq8-Hn2Vb7Lw4Tx9Rc1Ys6Pk3Md0Gf5Ju_Ae8Wo2Ei"
NEW = "k3Jd9-aL2qPz8xWv_Rt6YbNc4MhUe7FgSs1Ao0Ii5Kk"
COOKIE = "__Host-keystile"


def _cookie_from(app: Flask) -> str:
    """A browser's anonymous cookie session, as ``app`` signed it on the sign-in page."""
    client = app.test_client()
    assert client.get("/login").status_code == 200
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _opened(app: Flask, cookie: str) -> dict[str, object]:
    with app.test_request_context(headers={"Cookie": f"{COOKIE}={cookie}"}):
        session = app.session_interface.open_session(app, request)
        assert session is not None
        return dict(session)


def _signed_with(key: str, cookie: str, database_url: str, tmp_path: Path) -> bool:
    """Whether an app that knows only ``key`` reads ``cookie``."""
    return bool(_opened(make_app(database_url, tmp_path, secret_key=key), cookie))


def test_a_cookie_signed_with_the_previous_key_stays_valid(
    database_url: str, tmp_path: Path
) -> None:
    before = make_app(database_url, tmp_path, secret_key=OLD)
    cookie = _cookie_from(before)
    held = _opened(before, cookie)
    assert "csrf_token" in held

    rotated = make_app(database_url, tmp_path, secret_key=NEW, secret_key_fallbacks=OLD)
    assert _opened(rotated, cookie) == held
    forgotten = make_app(database_url, tmp_path, secret_key=NEW)
    assert _opened(forgotten, cookie) == {}  # without the fallback it is a new session


def test_the_next_write_signs_with_the_new_key(database_url: str, tmp_path: Path) -> None:
    cookie = _cookie_from(make_app(database_url, tmp_path, secret_key=OLD))
    rotated = make_app(database_url, tmp_path, secret_key=NEW, secret_key_fallbacks=OLD)
    client = rotated.test_client()
    client.set_cookie(COOKIE, cookie, domain="localhost")
    # A page that reads the session does not rewrite the cookie (Flask saves a modified
    # session only) ...
    client.get("/login")
    assert client.get_cookie(COOKIE).value == cookie  # type: ignore[union-attr]
    # ... one that writes it (a failed sign-in keeps the form's state) re-signs it.
    token = _opened(rotated, cookie)["csrf_token"]
    with rotated.test_request_context():
        session["csrf_token"] = token
        form_token = generate_csrf()
    client.post("/logout", data={"csrf_token": form_token})
    rewritten = client.get_cookie(COOKIE)
    assert rewritten is not None and rewritten.value != cookie
    assert _signed_with(NEW, rewritten.value, database_url, tmp_path)
    assert not _signed_with(OLD, rewritten.value, database_url, tmp_path)

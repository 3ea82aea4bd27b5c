"""Single sign-on to protected hosts: a one-time code carries the Keystile session to the
host, which gets a host-only cookie of its own, tied to that session."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.gate.handoff import GATE_COOKIE
from app.models import AuditEvent, GateSession, OneTimeToken, User, utcnow
from app.services import cert_auth, credentials, sessions
from app.services.audit import SYSTEM
from app.services.certificates import describe
from tests.conftest import AuthActions, csrf_from
from tests.support.gate import WIKI, cert_header, gate_settings, nginx, signed_in
from tests.support.pki import Pki

TOOLS = "https://tools.example.org"


@pytest.fixture
def app_overrides(tmp_path: Path) -> dict[str, Any]:
    return gate_settings(tmp_path)


@pytest.fixture
def proxy(app: Flask) -> FlaskClient:
    return app.test_client(use_cookies=False)


def code_of(location: str) -> str:
    assert location.startswith(f"{TOOLS}/.keystile/handoff?"), location
    return parse_qs(urlsplit(location).query)["code"][0]


def hand_off(browser: FlaskClient, target: str = f"{TOOLS}/x?y=1") -> str:
    """The signed-in browser goes to /gate/continue; returns the code it is given."""
    resp = browser.get("/gate/continue", query_string={"next": target})
    assert resp.status_code == 303, resp.status_code
    return code_of(resp.headers["Location"])


def redeem(app: Flask, code: str, host: str = "tools.example.org") -> Any:
    """The browser, now on the protected host, takes the code there (the proxy routes the
    path to Keystile)."""
    on_host = app.test_client()
    return on_host.get(
        "/.keystile/handoff", query_string={"code": code}, base_url=f"https://{host}"
    )


def host_cookie(resp: Any) -> str:
    header = resp.headers["Set-Cookie"]
    assert header.startswith(f"{GATE_COOKIE}=")
    assert "Secure" in header and "HttpOnly" in header and "Path=/" in header
    assert "Domain" not in header and "SameSite=Lax" in header
    return header.split(";")[0]


def test_sign_in_once_then_every_protected_host(
    app: Flask, proxy: FlaskClient, auth: AuthActions, db: Session, alice: User
) -> None:
    first = nginx(proxy, f"{TOOLS}/x?y=1")
    assert first.status_code == 401
    start = first.headers["Location"]
    assert start.startswith("https://localhost/gate/continue?")
    # Not signed in on Keystile yet: sign in first, then back to /gate/continue.
    resp = auth.client.get(start.removeprefix("https://localhost"))
    assert resp.status_code == 303
    login = resp.headers["Location"]
    assert login.startswith("/login?next=/gate/continue")
    token = csrf_from(auth.client.get(login).get_data(as_text=True))
    resp = auth.client.post(
        login,
        data={"username": "alice", "password": "correct horse battery staple", "csrf_token": token},
    )
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/gate/continue?")
    resp = auth.client.get(resp.headers["Location"])
    landed = redeem(app, code_of(resp.headers["Location"]))
    assert landed.status_code == 303 and landed.headers["Location"] == f"{TOOLS}/x?y=1"
    cookie = host_cookie(landed)
    allowed = nginx(proxy, f"{TOOLS}/x?y=1", cookie=cookie)
    assert allowed.status_code == 200 and allowed.headers["Remote-User"] == "alice"
    assert allowed.headers["Remote-Auth-Method"] == "password"
    # A second host: no page, one more code (the Keystile cookie does the work).
    resp = auth.client.get("/gate/continue", query_string={"next": f"{WIKI}/docs/"})
    assert resp.headers["Location"].startswith(f"{WIKI}/.keystile/handoff?code=")
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    on_wiki = redeem(app, code, host="wiki.example.com")
    assert nginx(proxy, f"{WIKI}/docs/", cookie=host_cookie(on_wiki)).status_code == 200
    rows = list(db.scalars(select(AuditEvent).where(AuditEvent.tag == "auth:gate:handoff")))
    assert [(r.user_id, r.details["host"]) for r in rows] == [
        (alice.id, "tools.example.org"),
        (alice.id, "wiki.example.com"),
    ]


def test_a_host_cookie_works_on_its_own_host_only(
    app: Flask, proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    signed_in(auth)
    cookie = host_cookie(redeem(app, hand_off(auth.client)))
    assert nginx(proxy, f"{TOOLS}/", cookie=cookie).status_code == 200
    assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).status_code == 401


@pytest.mark.parametrize("how", ["sign-out", "sign-out-everywhere", "replaced"])
def test_ending_the_keystile_session_ends_the_host_session(
    app: Flask, proxy: FlaskClient, auth: AuthActions, db: Session, alice: User, how: str
) -> None:
    signed_in(auth)
    cookie = host_cookie(redeem(app, hand_off(auth.client)))
    assert nginx(proxy, f"{TOOLS}/", cookie=cookie).status_code == 200
    if how == "sign-out":
        token = csrf_from(auth.client.get("/account").get_data(as_text=True))
        assert auth.client.post("/logout", data={"csrf_token": token}).status_code == 303
    elif how == "sign-out-everywhere":
        sessions.end_all(db, user_id=alice.id, now=utcnow(), reason="test")
        db.commit()
    else:
        auth.login()  # a new sign-in ends the browser's previous session
    assert nginx(proxy, f"{TOOLS}/", cookie=cookie).status_code == 401


def test_a_code_is_spent_once_on_its_own_host_within_its_lifetime(
    app: Flask, auth: AuthActions, db: Session, alice: User
) -> None:
    signed_in(auth)
    code = hand_off(auth.client)
    assert redeem(app, code, host="wiki.example.com").status_code == 400  # wrong host...
    assert redeem(app, code).status_code == 400  # ...and spent all the same
    code = hand_off(auth.client)
    assert redeem(app, code).status_code == 303
    assert redeem(app, code).status_code == 400  # once only
    code = hand_off(auth.client)
    db.execute(update(OneTimeToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    assert redeem(app, code).status_code == 400  # expired
    for junk in ("", "x", "a" * 500):
        assert redeem(app, junk).status_code == 400
    assert len(db.scalars(select(GateSession)).all()) == 1


def test_a_code_is_worthless_once_its_session_ended(
    app: Flask, auth: AuthActions, db: Session, alice: User
) -> None:
    signed_in(auth)
    code = hand_off(auth.client)
    sessions.end_all(db, user_id=alice.id, now=utcnow(), reason="test")
    db.commit()
    assert redeem(app, code).status_code == 400


def test_an_idle_host_session_ends(
    app: Flask, proxy: FlaskClient, auth: AuthActions, db: Session, alice: User
) -> None:
    signed_in(auth)
    cookie = host_cookie(redeem(app, hand_off(auth.client)))
    db.execute(update(GateSession).values(last_seen_at=utcnow() - timedelta(hours=2)))
    db.commit()
    assert nginx(proxy, f"{TOOLS}/", cookie=cookie).status_code == 401


@pytest.mark.parametrize(
    "target", ["https://evil.com/", "//evil.com", f"http://{TOOLS[8:]}/", f"{TOOLS}@evil.com/", ""]
)
def test_continue_goes_nowhere_else(auth: AuthActions, alice: User, target: str) -> None:
    signed_in(auth)
    resp = auth.client.get("/gate/continue", query_string={"next": target})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


def test_continue_to_keystile_s_own_host_needs_no_code(
    auth: AuthActions, alice: User, tmp_path: Path, app: Flask
) -> None:
    signed_in(auth)
    resp = auth.client.get("/gate/continue", query_string={"next": "/account/"})
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/"


def test_a_dead_host_cookie_holds_a_browser_with_a_certificate(
    app: Flask, proxy: FlaskClient, auth: AuthActions, db: Session, alice: User, pki: Pki
) -> None:
    credentials.add(
        db,
        cert_auth.certificate_credential(
            describe(pki.self_signed.cert), source="operator", proven=True
        ),
        user=alice,
        client=SYSTEM,
        now=utcnow(),
    )
    signed_in(auth)
    cookie = host_cookie(redeem(app, hand_off(auth.client)))
    sessions.end_all(db, user_id=alice.id, now=utcnow(), reason="signed out everywhere")
    db.commit()
    shown = cert_header(pki.self_signed.cert)
    assert nginx(proxy, f"{TOOLS}/", cookie=cookie, **shown).status_code == 401
    assert nginx(proxy, f"{TOOLS}/", **shown).status_code == 200  # curl --cert: no cookie

"""The sign-in edge (app/edge): which requests it answers, which it hands to Flask, and that
an answer is the same whichever side gave it.

The passkey, certificate and password tests run with the edge and without it
(tests/functional/conftest.py), and test_sign_in_paths_agree.py compares both apps' answers;
these pin down the seam itself.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.edge import SignInEdge
from app.models import AuditEvent, AuthSession, User
from app.services.audit import Event
from tests.conftest import AuthActions, csrf_from
from tests.support.browser import Browser
from tests.support.pki import Pki
from tests.support.proxied import PROXY, pin, via_proxy
from tests.support.soft_authenticator import SoftCredential

#: what the edge answers with no view involved
EDGE_PATHS = {"POST /webauthn/login/options", "POST /webauthn/login/verify", "GET /api/session"}


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {
        "challenge_limit_per_address": "5/minute",
        "login_limit_per_address": "3/minute",
        "trusted_proxies": PROXY,
        "cert_login": "auto",
    }


@pytest.fixture
def flask_answered(app: Flask) -> list[str]:
    """The requests that reached Flask (``"METHOD /path"``), in order."""
    edge = app.wsgi_app.wsgi_app  # type: ignore[attr-defined]  # TrustedProxyScheme's inner
    assert isinstance(edge, SignInEdge)
    seen: list[str] = []
    flask_app: Callable[..., Any] = edge.wsgi_app

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return flask_app(environ, start_response)

    edge.wsgi_app = spy
    return seen


def rows(db: Session, event: Event) -> int:
    db.expire_all()
    return int(
        db.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.tag == str(event)))
        or 0
    )


def test_a_passkey_sign_in_never_reaches_flask(
    browser: Browser, enrolled: SoftCredential, flask_answered: list[str], db: Session
) -> None:
    resp = browser.login(enrolled)
    assert resp.status_code == 200 and resp.get_json() == {"ok": True, "username": "alice"}
    assert browser.session()["method"] == "passkey"
    assert not EDGE_PATHS & set(flask_answered)
    assert set(flask_answered) == {"GET /login"}  # the page each CSRF token came from
    assert rows(db, Event.PASSKEY_SUCCESS) == 1
    assert (
        db.scalar(
            select(func.count()).select_from(AuthSession).where(AuthSession.method == "passkey")
        )
        == 1
    )


def test_the_edge_s_session_check_keeps_its_last_seen_time(
    browser: Browser, enrolled: SoftCredential, flask_answered: list[str], db: Session
) -> None:
    """``GET /api/session`` at the edge writes a stale last-seen time on its own
    (autocommit) connection: the write is kept, and the idle timeout counts from it."""
    from datetime import timedelta

    from tests.support.sessions import age_sessions

    assert browser.login(enrolled).status_code == 200
    age_sessions(db, "last_seen_at", timedelta(minutes=5))
    db.expire_all()
    mine = select(AuthSession.last_seen_at).where(AuthSession.method == "passkey")
    before = db.scalars(mine).one()
    assert browser.session()["method"] == "passkey"
    assert "GET /api/session" not in flask_answered
    db.expire_all()
    after = db.scalars(mine).one()
    assert after - before >= timedelta(minutes=4)


def test_one_statement_requests_run_in_autocommit_only_on_postgresql(app: Flask) -> None:
    """PostgreSQL: a BEGIN and a COMMIT or ROLLBACK round trip spared per request; SQLite:
    no round trips to spare, and switching the isolation level costs more (see Edge)."""
    from werkzeug.test import EnvironBuilder

    from app.edge.exchange import Exchange

    edge = app.wsgi_app.wsgi_app.edge  # type: ignore[attr-defined]
    exchange = Exchange(edge, EnvironBuilder(path="/api/session").get_environ())
    try:
        driver = exchange.conn.connection.dbapi_connection
        if exchange.conn.dialect.name == "postgresql":
            assert driver.autocommit is True  # type: ignore[union-attr]
        else:
            assert driver.isolation_level == ""  # type: ignore[union-attr]  # the default
    finally:
        exchange.close()


def _same_answer(edge: Any, flask: Any) -> None:
    assert edge.status_code == flask.status_code
    assert edge.get_json() == flask.get_json()
    for header in (
        "Content-Type",
        "Content-Security-Policy",
        "Cache-Control",
        "X-Frame-Options",
        "Referrer-Policy",
        "X-Content-Type-Options",
        "Strict-Transport-Security",
    ):
        assert edge.headers.get(header) == flask.headers.get(header), header
    assert "Cookie" in edge.headers.get("Vary", "")


def test_api_session_is_the_same_from_either_side(
    browser: Browser, enrolled: SoftCredential, flask_answered: list[str]
) -> None:
    signed_out = browser.client.get("/api/session")
    _same_answer(signed_out, browser.client.get("/api/session?via=flask"))
    assert signed_out.status_code == 401
    browser.login(enrolled)
    edge = browser.client.get("/api/session")
    _same_answer(edge, browser.client.get("/api/session?via=flask"))
    assert flask_answered.count("GET /api/session") == 2  # a query string goes to Flask


@pytest.mark.parametrize("state", ["live", "idle", "expired", "revoked", "disabled", "stale"])
def test_both_sides_judge_a_session_alike(
    state: str, client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    """The edge's one-query check (``sessions.peek``) and Flask's (``sessions.resolve``)."""
    from datetime import timedelta

    from sqlalchemy import update

    from app.models import UserStatus, utcnow

    now = utcnow()
    changes = {
        "live": {},
        "idle": {"last_seen_at": now - timedelta(minutes=31)},
        "expired": {"expires_at": now - timedelta(seconds=1)},
        "revoked": {"revoked_at": now},
        "stale": {"last_seen_at": now - timedelta(minutes=2)},
    }
    for path in ("/api/session", "/api/session?via=flask"):
        assert auth.login().status_code == 303
        if state == "disabled":
            db.execute(update(User).values(status=UserStatus.DISABLED))
        elif changes[state]:
            db.execute(
                update(AuthSession).where(AuthSession.revoked_at.is_(None)).values(**changes[state])
            )
        db.commit()
        resp = client.get(path)
        assert resp.status_code == (200 if state in {"live", "stale"} else 401), path
        if state == "stale":  # seen now: the idle timeout starts again
            db.expire_all()
            seen = db.scalar(
                select(AuthSession.last_seen_at).where(AuthSession.revoked_at.is_(None))
            )
            assert seen is not None and seen >= now, path
        db.execute(update(User).values(status=UserStatus.ACTIVE))
        db.commit()


def test_a_dead_session_cookie_is_deleted_by_either_side(
    browser: Browser, enrolled: SoftCredential, db: Session
) -> None:
    for path in ("/api/session", "/api/session?via=flask"):
        browser.client.set_cookie("__Host-keystile-session", "not-a-session", domain="localhost")
        resp = browser.client.get(path)
        assert resp.status_code == 401
        cleared = [
            c
            for c in resp.headers.getlist("Set-Cookie")
            if c.startswith("__Host-keystile-session=")
        ]
        assert cleared and "Max-Age=0" in cleared[0], path


def test_options_refusals_match_the_views(
    browser: Browser, flask_answered: list[str], enrolled: SoftCredential
) -> None:
    for body in (b"[1]", b"{", b'{"username": 5}', b'{"username": "  "}'):
        resp = browser.post("/webauthn/login/options", body)
        assert resp.status_code == 400 and resp.get_json()["error"] == "bad_request", body
    assert "POST /webauthn/login/options" not in flask_answered
    assert browser.request_options("alice")["allowCredentials"]


@pytest.mark.parametrize("case", ["no token", "forged cookie session", "form body", "signed in"])
def test_anything_but_the_plain_case_goes_to_flask(
    case: str, browser: Browser, enrolled: SoftCredential, flask_answered: list[str], db: Session
) -> None:
    if case == "no token":
        resp = browser.post("/webauthn/login/options", {}, csrf=False)
        assert resp.status_code == 400 and resp.get_json()["error"] == "csrf"
        assert "POST /webauthn/login/options" in flask_answered
    elif case == "forged cookie session":
        token = browser.csrf()
        browser.client.set_cookie(
            "__Host-keystile", "eyJjc3JmX3Rva2VuIjoieCJ9.forged", domain="localhost"
        )
        resp = browser.client.post(
            "/webauthn/login/options",
            data=b"{}",
            headers={"X-CSRFToken": token, "Content-Type": "application/json"},
        )
        assert resp.status_code == 400 and resp.get_json()["error"] == "csrf"
    elif case == "form body":
        resp = browser.client.post(
            "/webauthn/login/options",
            data={"username": "alice"},
            headers={"X-CSRFToken": browser.csrf()},
        )
        # Flask reads a form body as the form (checking it for NUL bytes), and the view
        # then finds no JSON at all: the options of a discoverable sign-in.
        assert resp.status_code == 200 and resp.get_json()["allowCredentials"] == []
        assert "POST /webauthn/login/options" in flask_answered
    else:
        browser.password_login()
        before = browser.client.get_cookie("__Host-keystile-session")
        assert before is not None
        resp = browser.login(enrolled)
        assert resp.status_code == 200
        assert "POST /webauthn/login/verify" in flask_answered
        # Flask's sign-in ended the password session the browser had (E.20).
        db.expire_all()
        methods = dict(db.execute(select(AuthSession.method, AuthSession.revoked_reason)).all())
        assert methods == {"password": "replaced by new sign-in", "passkey": None}


def test_limits_count_on_both_sides(
    browser: Browser, enrolled: SoftCredential, flask_answered: list[str], db: Session
) -> None:
    """The edge counts in the views' own keys: its requests use up the view's limit, and
    the refusal, its page and its audit row come from Flask."""
    for _ in range(5):
        browser.request_options()
    refused = browser.post("/webauthn/login/options", {})
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert flask_answered.count("POST /webauthn/login/options") == 1
    assert rows(db, Event.THROTTLED) == 1


def test_only_refused_assertions_count_to_the_sign_in_limit(
    app: Flask, browser: Browser, enrolled: SoftCredential, db: Session
) -> None:
    from app.web.throttle import throttle_of

    for _ in range(4):  # successes do not count (only answers other than 200 do)
        assert browser.login(enrolled).status_code == 200
        browser.client.delete_cookie("__Host-keystile-session", domain="localhost")
    throttle_of(app).reset()  # the options requests above count to their own limit
    for _ in range(3):
        assert browser.post("/webauthn/login/verify", {"id": "x"}).status_code in {400, 401}
    assert browser.post("/webauthn/login/verify", {"id": "x"}).status_code == 429
    assert rows(db, Event.PASSKEY_FAILURE) == 3


def test_an_unexpected_error_is_a_plain_500(
    browser: Browser,
    enrolled: SoftCredential,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.edge import passkey

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(passkey.passkeys, "begin_discoverable_authentication", broken)
    resp = browser.post("/webauthn/login/options", {})
    assert resp.status_code == 500
    assert resp.get_json()["message"].startswith("Something went wrong on our side")
    assert b"fire" not in resp.data and b"Traceback" not in resp.data
    assert "database on fire" in caplog.text  # logged for the operator
    assert resp.headers["Content-Security-Policy"]


def test_a_failing_verify_still_counts_to_the_limit(
    browser: Browser, enrolled: SoftCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.edge import passkey

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(passkey.passkeys, "finish_authentication", broken)
    for _ in range(3):
        assert browser.login(enrolled).status_code == 500
    assert browser.post("/webauthn/login/verify", {"id": "x"}).status_code == 429


# -- certificate sign-in (auto mode) ------------------------------------------------------


def test_a_certificate_sign_in_never_reaches_flask(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    alice: User,
    db: Session,
    pki: Pki,
    flask_answered: list[str],
) -> None:
    pin(db, alice, pki.self_signed.cert)
    resp = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"
    assert resp.headers["Content-Security-Policy"] and resp.headers["Cache-Control"] == "no-store"
    assert auth.session()["method"] == "certificate"
    assert flask_answered == []
    assert client.get_cookie("__Host-keystile") is None  # nothing to remember: none set
    assert rows(db, Event.CERTIFICATE_SUCCESS) == 1


@pytest.mark.parametrize(
    "case", ["no certificate", "signed out", "next", "unknown", "untrusted peer", "signed in"]
)
def test_any_other_sign_in_page_goes_to_flask(
    case: str,
    client: FlaskClient,
    auth: AuthActions,
    alice: User,
    db: Session,
    pki: Pki,
    flask_answered: list[str],
) -> None:
    pin(db, alice, pki.self_signed.cert)
    cert = via_proxy(pki.self_signed.cert)
    path, status = "/login", 200
    if case == "no certificate":
        cert = {}
    elif case == "signed out":
        assert client.get("/login", **cert).status_code == 303
        page = client.get("/account", **cert).get_data(as_text=True)
        client.post("/logout", data={"csrf_token": csrf_from(page)}, **cert)
    elif case == "next":
        path, status = "/login?next=/account/sessions", 303
    elif case == "unknown":
        cert = via_proxy(pki.good.cert)
    elif case == "untrusted peer":
        cert = {**cert, "environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    else:
        assert auth.login().status_code == 303
    flask_answered.clear()
    resp = client.get(path, **cert)
    assert resp.status_code == status
    assert flask_answered == [f"GET {path.split('?')[0]}"]
    if case == "next":
        assert resp.headers["Location"] == "/account/sessions"
    if case == "untrusted peer":
        assert rows(db, Event.CERTIFICATE_HEADER_IGNORED) == 1


def test_a_first_passkey_sign_in_is_told_once(
    browser: Browser, enrolled: SoftCredential, db: Session
) -> None:
    """The new-method notice (the enrolment signed in by password first): told at the
    passkey's first sign-in, not at its next ones, however many sessions there were."""
    from app.models import Notice

    for _ in range(3):
        assert browser.login(enrolled).status_code == 200
        browser.client.delete_cookie("__Host-keystile-session", domain="localhost")
    db.expire_all()
    tags = db.scalars(select(Notice.tag)).all()
    assert tags.count("account:sign_in:new_method") == 1


# -- from the review of the edge (each failed before its fix) ---------------------------


def test_concurrent_options_cannot_exceed_the_challenge_limit(
    app: Flask, browser: Browser, enrolled: SoftCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An options request is counted with one atomic ``hit`` per window; an edge that asked
    ``test`` and only then ``hit`` (ignoring its result) let requests that arrive together
    all pass the check. Limit 5/minute: 4 used, 2 concurrent -> one must be 429."""
    from limits.strategies import MovingWindowRateLimiter

    for _ in range(4):
        browser.request_options()
    token = browser.csrf()
    cookie = browser.client.get_cookie("__Host-keystile")
    assert cookie is not None
    original_test = MovingWindowRateLimiter.test
    barrier = threading.Barrier(2, timeout=2)

    def test_then_wait(*args: Any, **kwargs: Any) -> bool:
        ok = original_test(*args, **kwargs)
        # both requests have looked at the window before either counts
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return bool(ok)

    monkeypatch.setattr(MovingWindowRateLimiter, "test", test_then_wait)
    statuses: list[int] = []

    def one() -> None:
        c = app.test_client()
        c.set_cookie("__Host-keystile", cookie.value, domain="localhost")
        statuses.append(
            c.post(
                "/webauthn/login/options",
                data=b"{}",
                headers={"X-CSRFToken": token, "Content-Type": "application/json"},
            ).status_code
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 429]


def test_a_truncated_body_is_flasks_400_and_counts(
    browser: Browser, enrolled: SoftCredential, caplog: pytest.LogCaptureFixture
) -> None:
    for path in ("/webauthn/login/options", "/webauthn/login/verify"):
        for query in ("?via=flask", ""):
            resp = browser.client.post(
                path + query,
                data=b"{}",
                headers={"X-CSRFToken": browser.csrf(), "Content-Type": "application/json"},
                environ_overrides={"CONTENT_LENGTH": "100"},
            )  # the client went away
            assert resp.status_code == 400, (path + query, resp.get_json())
    assert "unhandled error" not in caplog.text
    # login limit 3/minute: Flask counted its 400 (anything but 200 counts); the edge's
    # refusal must count too, so one more refusal reaches the limit.
    browser.post("/webauthn/login/verify", {"id": "x"})
    assert browser.post("/webauthn/login/verify", {"id": "x"}).status_code == 429


def test_edge_answers_carry_the_views_limit_headers(
    browser: Browser, enrolled: SoftCredential
) -> None:
    edge = browser.post("/webauthn/login/options", {})
    flask = browser.client.post(
        "/webauthn/login/options?via=flask",
        data=b"{}",
        headers={"X-CSRFToken": browser.csrf(), "Content-Type": "application/json"},
    )
    assert edge.status_code == flask.status_code == 200
    for header in (
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "Retry-After",
    ):
        assert flask.headers.get(header) is not None, header
        assert edge.headers.get(header) is not None, header


def test_an_unexpected_error_on_the_sign_in_page_is_the_error_page(
    client: FlaskClient, alice: User, db: Session, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import sessions

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database on fire")

    pin(db, alice, pki.self_signed.cert)
    monkeypatch.setattr(sessions, "open_for_sign_in", broken)
    flask = client.get("/login?via=flask", **via_proxy(pki.self_signed.cert))
    edge = client.get("/login", **via_proxy(pki.self_signed.cert))
    assert flask.status_code == edge.status_code == 500
    assert flask.mimetype == "text/html"
    assert edge.mimetype == flask.mimetype


def test_the_certificate_redirect_keeps_the_script_root(
    client: FlaskClient, alice: User, db: Session, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    root = "http://localhost/keystile/"
    flask = client.get("/login?via=flask", base_url=root, **via_proxy(pki.self_signed.cert))
    client.delete_cookie("__Host-keystile-session", domain="localhost")
    edge = client.get("/login", base_url=root, **via_proxy(pki.self_signed.cert))
    assert flask.status_code == edge.status_code == 303
    assert flask.headers["Location"] == "/keystile/account"
    assert edge.headers["Location"] == flask.headers["Location"]


def test_a_remember_token_cookie_gets_the_same_session_answer(
    browser: Browser, enrolled: SoftCredential
) -> None:
    assert browser.login(enrolled).status_code == 200
    browser.client.set_cookie("remember_token", "anything", domain="localhost")
    edge = browser.client.get("/api/session")
    flask = browser.client.get("/api/session?via=flask")
    assert (edge.status_code, edge.get_json()) == (flask.status_code, flask.get_json())


def test_logout_ends_the_session_whatever_other_cookies_come_with_it(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    """(Pre-dates the edge.) A ``remember_token`` cookie (any value; a sibling subdomain can
    set one) makes Flask-Login never call the request loader: the signed-in browser is
    anonymous to Flask, so logout (and E.20's replacement on a new sign-in) ends nothing."""
    assert auth.login().status_code == 303
    token = auth.csrf("/account")
    client.set_cookie("remember_token", "anything", domain="localhost")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    db.expire_all()
    assert db.scalar(select(AuthSession.revoked_reason)) is not None


# -- the controls Flask applies reach the edge's requests too -----------------------------


def test_a_foreign_origin_goes_to_flask_which_refuses_it(
    browser: Browser, enrolled: SoftCredential, flask_answered: list[str]
) -> None:
    resp = browser.client.post(
        "/webauthn/login/options",
        data=b"{}",
        headers={
            "X-CSRFToken": browser.csrf(),
            "Content-Type": "application/json",
            "Origin": "https://evil.example",
        },
    )
    assert resp.status_code == 403 and resp.get_json()["error"] == "origin"
    assert "POST /webauthn/login/options" in flask_answered
    flask_answered.clear()
    assert browser.post("/webauthn/login/options", {}).status_code == 200
    assert flask_answered == ["GET /login"]  # the CSRF token's page; the edge answered


def test_trusted_hosts_apply_to_the_edge_s_requests(
    app: Flask, browser: Browser, enrolled: SoftCredential, flask_answered: list[str]
) -> None:
    app.config["TRUSTED_HOSTS"] = ["keystile.example"]
    assert browser.client.get("/api/session").status_code == 400
    assert flask_answered == ["GET /api/session"]
    flask_answered.clear()
    resp = browser.client.get("/api/session", base_url="https://keystile.example")
    assert resp.status_code == 401 and flask_answered == []


@pytest.fixture
def hook_saw(app: Flask) -> list[str]:
    """The paths a ``before_request`` hook of a deployment's own saw (added, as Flask
    requires, before the app's first request)."""
    seen: list[str] = []

    @app.before_request
    def monitor() -> None:
        from flask import request

        seen.append(request.path)

    return seen


def test_a_before_request_hook_the_edge_does_not_know_sends_every_request_to_flask(
    hook_saw: list[str], browser: Browser, enrolled: SoftCredential, flask_answered: list[str]
) -> None:
    assert browser.login(enrolled).status_code == 200
    assert browser.session()["method"] == "passkey"
    for path in ("/webauthn/login/options", "/webauthn/login/verify", "/api/session"):
        assert path in hook_saw
        assert any(answered.endswith(path) for answered in flask_answered)


def test_got_request_exception_is_sent_from_either_side(
    app: Flask, browser: Browser, enrolled: SoftCredential, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What error reporting listens to (Flask's ``got_request_exception``)."""
    from flask import got_request_exception

    from app.services import passkeys

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(passkeys, "begin_discoverable_authentication", broken)
    monkeypatch.setattr(passkeys, "begin_authentication", broken)
    reported: list[BaseException] = []

    def report(sender: Flask, exception: BaseException, **_: Any) -> None:
        reported.append(exception)

    with got_request_exception.connected_to(report, app):
        for path in ("/webauthn/login/options", "/webauthn/login/options?via=flask"):
            resp = browser.client.post(
                path,
                data=b"{}",
                headers={"X-CSRFToken": browser.csrf(), "Content-Type": "application/json"},
            )
            assert resp.status_code == 500, path
    assert [str(e) for e in reported] == ["database on fire"] * 2


@pytest.mark.parametrize("sign_in_edge", [False])
def test_the_edge_can_be_switched_off(
    app: Flask, browser: Browser, enrolled: SoftCredential
) -> None:
    assert not isinstance(app.wsgi_app.wsgi_app, SignInEdge)  # type: ignore[attr-defined]
    assert browser.login(enrolled).status_code == 200
    assert browser.session()["method"] == "passkey"


@pytest.mark.parametrize("scope", ["webauthn", "admin"])
def test_a_blueprint_s_hook_counts_only_for_its_own_views(
    scope: str, app: Flask, browser: Browser, enrolled: SoftCredential, flask_answered: list[str]
) -> None:
    """Flask runs a blueprint's ``before_request`` hooks for that blueprint's views only."""
    seen: list[str] = []

    def monitor() -> None:
        from flask import request

        seen.append(request.path)

    app.before_request_funcs.setdefault(scope, []).append(monitor)
    flask_answered.clear()
    assert browser.login(enrolled).status_code == 200
    assert browser.session()["method"] == "passkey"
    passkey_paths = {"/webauthn/login/options", "/webauthn/login/verify"}
    if scope == "webauthn":
        assert set(seen) == passkey_paths
        assert {f"POST {p}" for p in passkey_paths} <= set(flask_answered)
    else:
        assert seen == []
        assert not {f"POST {p}" for p in passkey_paths} & set(flask_answered)
    assert "GET /api/session" not in flask_answered  # the auth blueprint's: no new hook

"""The forward-auth gate's contract, through the test client as each proxy calls it.

The proxy is another test client whose requests come from the trusted address; the
browser's cookies and certificate travel in the headers the proxy forwards, as nginx's
``auth_request`` subrequest and Traefik/Caddy's ``forwardAuth`` carry them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.db import engine_of
from app.models import AuditEvent, AuthSession, User, utcnow
from app.services import groups, sessions
from app.services.audit import SYSTEM
from app.services.gate import HEADERS
from app.web.auth_state import COOKIE
from tests.conftest import AuthActions
from tests.support import factories
from tests.support.gate import (
    PROXY,
    WIKI,
    cert_header,
    forward,
    gate_settings,
    next_of,
    nginx,
    pin,
    session_cookie,
    signed_in,
)
from tests.support.pki import Pki


@pytest.fixture
def app_overrides(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """The gate's rules and trusted proxy, and a test's own changes (indirect parameters)."""
    return gate_settings(tmp_path, **getattr(request, "param", {}))


@pytest.fixture
def proxy(app: Flask) -> FlaskClient:
    return app.test_client(use_cookies=False)


# -- who may ask ---------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["auth-request", "forward-auth"])
def test_a_check_from_anyone_but_the_trusted_proxy_is_refused(
    proxy: FlaskClient,
    auth: AuthActions,
    alice: User,
    endpoint: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cookie = signed_in(auth)
    headers = {
        "X-Original-URL": f"{WIKI}/docs/",
        "X-Original-Method": "GET",
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "wiki.example.com",
        "X-Forwarded-Uri": "/docs/",
        "Cookie": cookie,
    }
    with caplog.at_level(logging.WARNING, logger="app.gate.views"):
        resp = proxy.get(
            f"/api/authz/{endpoint}", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.9"}
        )
    assert resp.status_code == 403 and "Remote-User" not in resp.headers
    assert "not a trusted proxy" in caplog.text and "203.0.113.9" in caplog.text
    # The same check from the proxy passes: the refusal was about the peer alone.
    resp = proxy.get(f"/api/authz/{endpoint}", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
    assert resp.status_code == 200 and resp.headers["Remote-User"] == "alice"


@pytest.mark.parametrize("app_overrides", [{"trusted_proxies": ""}], indirect=True)
def test_with_no_trusted_proxy_every_check_is_refused(proxy: FlaskClient) -> None:
    assert nginx(proxy, f"{WIKI}/public/").status_code == 403
    assert forward(proxy, "/public/").status_code == 403


# -- unreadable checks are never allowed ---------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"X-Original-URL": f"{WIKI}/public/"}, id="no-method"),
        pytest.param({"X-Original-Method": "GET"}, id="no-url"),
        pytest.param({"X-Original-URL": "/public/", "X-Original-Method": "GET"}, id="relative"),
        pytest.param(
            {"X-Original-URL": "ftp://wiki.example.com/public/", "X-Original-Method": "GET"},
            id="other-scheme",
        ),
        pytest.param(
            {"X-Original-URL": "https://evil@wiki.example.com/public/", "X-Original-Method": "GET"},
            id="userinfo",
        ),
        pytest.param(
            {"X-Original-URL": "https://[wiki.example.com/public/", "X-Original-Method": "GET"},
            id="urlsplit-refuses",
        ),
        pytest.param(
            {"X-Original-URL": f"{WIKI}/public/", "X-Original-Method": "GE T"}, id="bad-method"
        ),
        pytest.param(
            {"X-Original-URL": f"{WIKI}/public/%2e%2e/admin/", "X-Original-Method": "GET"},
            id="encoded-dots",
        ),
        pytest.param(
            {"X-Original-URL": f"{WIKI}/public/%2fadmin", "X-Original-Method": "GET"},
            id="encoded-slash",
        ),
        pytest.param(
            {"X-Original-URL": f"{WIKI}/public/\u00e9", "X-Original-Method": "GET"},
            id="raw-non-ascii",
        ),
    ],
)
def test_unreadable_nginx_checks_are_denied(proxy: FlaskClient, headers: dict[str, str]) -> None:
    resp = proxy.get(
        "/api/authz/auth-request", headers=headers, environ_base={"REMOTE_ADDR": PROXY}
    )
    assert resp.status_code == 403


def test_a_repeated_forwarded_header_is_denied(proxy: FlaskClient) -> None:
    resp = proxy.get(
        "/api/authz/forward-auth",
        headers=[
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "wiki.example.com"),
            ("X-Forwarded-Uri", "/public/"),
            ("X-Forwarded-Uri", "/admin/"),
        ],
        environ_base={"REMOTE_ADDR": PROXY},
    )
    assert resp.status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("host", "wiki.example.com, evil.com"),
        ("host", "wiki.example.com:x"),
        ("host", ""),
    ],
)
def test_unreadable_forward_auth_checks_are_denied(
    proxy: FlaskClient, field: str, value: str
) -> None:
    assert forward(proxy, "/public/", **{field: value}).status_code == 403  # type: ignore[arg-type]


def test_a_malformed_cookie_is_never_a_200(proxy: FlaskClient) -> None:
    for cookie in (f"{COOKIE}=x", f"{COOKIE}=" + "a" * 5000, f"{COOKIE}=\u00e9"):
        assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).status_code == 401


# -- the answers ---------------------------------------------------------------------------


def test_anonymous_nginx_check_gets_401_with_the_sign_in_url(proxy: FlaskClient) -> None:
    resp = nginx(proxy, f"{WIKI}/docs/page?x=1")
    assert resp.status_code == 401
    location = resp.headers["Location"]
    assert location.startswith("https://localhost/gate/continue?")
    assert next_of(location) == {"next": [f"{WIKI}/docs/page?x=1"]}
    assert "Set-Cookie" not in resp.headers and resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "accept", "extra", "status"),
    [
        pytest.param("GET", "text/html,*/*;q=0.8", {}, 302, id="navigation"),
        pytest.param("HEAD", "text/html", {}, 302, id="head"),
        pytest.param("POST", "text/html", {}, 303, id="form-post"),
        pytest.param("DELETE", "text/html", {}, 303, id="delete"),
        pytest.param("GET", "*/*", {}, 401, id="curl"),
        pytest.param("GET", "application/json", {}, 401, id="api"),
        pytest.param("GET", "text/html;q=0", {}, 401, id="html-refused"),
        pytest.param("GET", "text/html", {"X-Requested-With": "XMLHttpRequest"}, 401, id="xhr"),
        pytest.param("GET", "text/html", {"Sec-Fetch-Mode": "cors"}, 401, id="fetch"),
        pytest.param("GET", "text/html", {"Sec-Fetch-Mode": "navigate"}, 302, id="fetch-navigate"),
    ],
)
def test_forward_auth_redirects_browsers_and_401s_the_rest(
    proxy: FlaskClient, method: str, accept: str, extra: dict[str, str], status: int
) -> None:
    resp = forward(proxy, "/docs/?a=b", method, accept=accept, **extra)
    assert resp.status_code == status
    assert next_of(resp.headers["Location"]) == {"next": [f"{WIKI}/docs/?a=b"]}


def test_bypass_sends_all_six_headers_empty_even_when_signed_in(
    proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    for cookie in ("", signed_in(auth)):
        resp = nginx(proxy, f"{WIKI}/public/logo.png", cookie=cookie, **{"Remote-User": "admin"})
        assert resp.status_code == 200
        assert {h: resp.headers.get(h) for h in HEADERS} == dict.fromkeys(HEADERS, "")


def test_password_user_passes_with_every_identity_header(
    proxy: FlaskClient, auth: AuthActions, db: Session, alice: User
) -> None:
    alice.display_name = "Alice Example"
    db.commit()
    for name in ("ops", "dev"):
        groups.add(db, alice, name, client=SYSTEM, now=utcnow())
    db.commit()
    cookie = signed_in(auth)
    for resp in (
        nginx(proxy, f"{WIKI}/docs/", cookie=cookie),
        forward(proxy, "/docs/", cookie=cookie, host="tools.example.org"),
        nginx(proxy, f"{WIKI}/ops/", cookie=cookie),
    ):
        assert resp.status_code == 200
        assert {h: resp.headers[h] for h in HEADERS} == {
            "Remote-User": "alice",
            "Remote-Groups": "dev,ops",
            "Remote-Email": "alice@example.org",
            "Remote-Name": "Alice Example",
            "Remote-Auth-Method": "password",
            "Remote-Auth-Strength": "password",
        }
        assert "Set-Cookie" not in resp.headers


def test_a_rule_for_a_group_denies_others(
    proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    assert nginx(proxy, f"{WIKI}/ops/x", cookie=signed_in(auth)).status_code == 403
    assert nginx(proxy, f"{WIKI}/ops/x").status_code == 401  # nobody yet: sign in first


def test_deny_by_default_and_for_unknown_hosts(
    proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    cookie = signed_in(auth)
    assert nginx(proxy, "https://evil.com/", cookie=cookie).status_code == 403
    assert forward(proxy, "/", host="example.com", cookie=cookie).status_code == 403


def test_hardware_key_rule_steps_a_password_user_up(
    proxy: FlaskClient, auth: AuthActions, alice: User
) -> None:
    resp = nginx(proxy, f"{WIKI}/admin/x", cookie=signed_in(auth))
    assert resp.status_code == 401
    location = resp.headers["Location"]
    assert location.startswith("https://localhost/login?")
    query = next_of(location)
    assert query.pop("reauth") == ["1"] and query.pop("need") == ["hardware_key"]
    (then,) = query.pop("next")
    assert not query and then.startswith("/gate/continue?")
    assert next_of(then) == {"next": [f"{WIKI}/admin/x"]}
    page = auth.client.get(resp.headers["Location"].removeprefix("https://localhost"))
    assert page.status_code == 200 and "attested hardware key" in page.get_data(as_text=True)


def test_hardware_key_session_passes_while_recent(
    proxy: FlaskClient, app: Flask, db: Session, alice: User
) -> None:
    key = factories.passkey(db, alice, synced=False, attested=True)
    fresh = session_cookie(app, db, alice, key, "passkey", age=timedelta(minutes=5))
    resp = nginx(proxy, f"{WIKI}/admin/x", cookie=fresh)
    assert resp.status_code == 200
    assert resp.headers["Remote-Auth-Method"] == "passkey"
    assert resp.headers["Remote-Auth-Strength"] == "hardware-key"
    old = session_cookie(app, db, alice, key, "passkey", age=timedelta(minutes=16))
    assert nginx(proxy, f"{WIKI}/admin/x", cookie=old).status_code == 401
    synced = factories.passkey(db, alice, synced=True)
    weaker = session_cookie(app, db, alice, synced, "passkey")
    resp = nginx(proxy, f"{WIKI}/admin/x", cookie=weaker)
    assert resp.status_code == 401 and "need=hardware_key" in resp.headers["Location"]


def test_sign_out_everywhere_ends_access_at_the_next_check(
    proxy: FlaskClient, auth: AuthActions, db: Session, alice: User
) -> None:
    cookie = signed_in(auth)
    assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).status_code == 200
    sessions.end_all(db, user_id=alice.id, now=utcnow(), reason="test")
    db.commit()
    resp = nginx(proxy, f"{WIKI}/docs/", cookie=cookie)
    assert resp.status_code == 401 and "Set-Cookie" not in resp.headers


def test_an_http_url_is_not_a_return_target(proxy: FlaskClient) -> None:
    resp = nginx(proxy, "http://wiki.example.com/docs/")
    assert resp.status_code == 401 and resp.headers["Location"] == "https://localhost/login"


def test_identity_headers_cannot_be_split(
    proxy: FlaskClient, auth: AuthActions, db: Session, alice: User
) -> None:
    alice.display_name = "Al\r\nSet-Cookie: x=1 \u00e9\u674e"
    db.commit()
    resp = nginx(proxy, f"{WIKI}/docs/", cookie=signed_in(auth))
    assert resp.status_code == 200
    raw = resp.headers["Remote-Name"].encode("latin-1").decode("utf-8")
    assert raw == "AlSet-Cookie: x=1 \u00e9\u674e"
    assert "Set-Cookie" not in resp.headers


# -- certificates at the gate --------------------------------------------------------------


def test_a_pinned_certificate_passes_with_no_cookie(
    proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    for resp in (
        nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert)),
        forward(proxy, "/docs/", accept="*/*", **cert_header(pki.self_signed.cert)),
    ):
        assert resp.status_code == 200
        assert resp.headers["Remote-User"] == "alice"
        assert resp.headers["Remote-Auth-Method"] == "certificate"
        assert resp.headers["Remote-Auth-Strength"] == "certificate"
    assert db.scalar(select(AuthSession).where(AuthSession.user_id == alice.id)) is None
    # Not enough for a hardware-key rule: step up (an API client gets a plain 401).
    assert (
        forward(proxy, "/admin/", accept="*/*", **cert_header(pki.self_signed.cert)).status_code
        == 401
    )


def test_a_proven_pin_is_one_read_and_no_write_per_check(
    proxy: FlaskClient, app: Flask, db: Session, alice: User, pki: Pki
) -> None:
    """The gate's hottest certificate path: the pin, its owner and the owner's groups come
    in one query, and nothing is written (no session opens, no success is audited)."""
    pin(db, alice, pki.self_signed.cert)
    groups.add(db, alice, "ops", client=SYSTEM, now=utcnow())
    db.commit()
    seen: list[str] = []

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split()[0].upper())

    engine = engine_of(app)
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        resp = nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert))
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
    assert resp.status_code == 200
    assert (resp.headers["Remote-User"], resp.headers["Remote-Groups"]) == ("alice", "ops")
    assert resp.headers["Remote-Email"] == alice.email
    assert seen == ["SELECT"]


def test_an_unknown_certificate_is_no_sign_in_and_is_audited(
    proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    resp = nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert))
    assert resp.status_code == 401
    rows = list(db.scalars(select(AuditEvent).where(AuditEvent.tag == "auth:certificate:failure")))
    assert [r.reason for r in rows] == ["unknown_certificate"]


def test_a_garbage_certificate_header_is_no_sign_in(proxy: FlaskClient, alice: User) -> None:
    for value in ("{http.request.tls.client.certificate_der_base64}", "", "%%%", "-----BEGIN"):
        resp = nginx(proxy, f"{WIKI}/docs/", **{"X-SSL-Client-Cert": value})
        assert resp.status_code == 401


def test_sign_out_holds_for_a_browser_presenting_its_certificate(
    proxy: FlaskClient, auth: AuthActions, db: Session, alice: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    cookie = signed_in(auth)
    sessions.end_all(db, user_id=alice.id, now=utcnow(), reason="signed out everywhere")
    db.commit()
    held = nginx(proxy, f"{WIKI}/docs/", cookie=cookie, **cert_header(pki.self_signed.cert))
    assert held.status_code == 401
    # The same certificate with no Keystile cookie (curl --cert) is not a browser session.
    assert nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert)).status_code == 200


@pytest.mark.parametrize("app_overrides", [{"cert_login": "off"}], indirect=True)
def test_no_certificate_sign_in_at_the_gate_when_it_is_off(
    proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    assert nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert)).status_code == 401


# -- back to the protected site after signing in -------------------------------------------


def test_the_sign_in_page_sends_the_user_back_to_the_protected_url(
    client: FlaskClient, auth: AuthActions, alice: User
) -> None:
    back = f"{WIKI}/docs/page?x=1"
    token = auth.csrf("/login?next=" + quote(back, safe=""))
    resp = client.post(
        "/login?next=" + quote(back, safe=""),
        data={"username": "alice", "password": "correct horse battery staple", "csrf_token": token},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == back


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.com/",
        "//evil.com",
        "http://wiki.example.com/",
        "https://wiki.example.com@evil.com/",
        "https://wiki.example.com\uff0f@evil.com",
    ],
)
def test_the_sign_in_page_refuses_other_return_urls(
    client: FlaskClient, auth: AuthActions, alice: User, evil: str
) -> None:
    token = auth.csrf()
    resp = client.post(
        "/login?next=" + quote(evil, safe=""),
        data={"username": "alice", "password": "correct horse battery staple", "csrf_token": token},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


HOSTILE = [
    "",
    " ",
    "/",
    "//evil.com",
    "/\\evil",
    "https:evil.com",
    "https://wiki.example.com@evil",
    "https://wiki.example.com\t/",
    "https://wiki.example.com/\x01X: y",
    "%2f%2fevil",
    "https://wiki.example.com/%00",
    "https://wiki.example.com/%",
    "https://[::1",
    "https://wiki.example.com:99999/",
    "https://wiki.example.com/" + "a" * 9000,
    "javascript:alert(1)",
    "https://wiki.example.com\uff0f@evil/",
    "https://WIKI.EXAMPLE.COM/public/../admin",
    "https://wiki.example.com/public/..%2fadmin",
    "https://wiki.example.com/public/%252e%252e/",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_check_headers_are_never_allowed_nor_errors(proxy: FlaskClient, value: str) -> None:
    """Whatever the proxy passes on, the answer is a refusal or a sign-in, never a 200 or a
    5xx (the readable values here, "/" and /public/../admin, need a sign-in)."""
    for resp in (
        nginx(proxy, value),
        forward(proxy, value),
        forward(proxy, "/docs/", host=value),
        forward(proxy, "/docs/", method=value),
    ):
        assert resp.status_code in (302, 401, 403), (value, resp.status_code)


def test_bypass_and_deny_need_no_identity(proxy: FlaskClient, db: Session, pki: Pki) -> None:
    """An unknown certificate on a public path or a denied host is not even judged: no
    audit row, as no sign-in was needed to answer."""
    for resp in (
        nginx(proxy, f"{WIKI}/public/x", **cert_header(pki.self_signed.cert)),
        nginx(proxy, "https://evil.com/", **cert_header(pki.self_signed.cert)),
    ):
        assert resp.status_code in (200, 403)
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "auth:certificate:failure")) is None
    assert nginx(proxy, f"{WIKI}/docs/", **cert_header(pki.self_signed.cert)).status_code == 401
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "auth:certificate:failure"))


@pytest.mark.parametrize("target", ["//[", "https://[::1", "https://wiki.example.com:99999/"])
def test_a_next_urlsplit_cannot_read_is_no_server_error(
    client: FlaskClient, auth: AuthActions, alice: User, target: str
) -> None:
    """``urlsplit`` raises ValueError for these: the sign-in page still answers, and goes to
    the account page afterwards."""
    assert client.get("/login?next=" + quote(target, safe="")).status_code == 200
    token = auth.csrf()
    resp = client.post(
        "/login?next=" + quote(target, safe=""),
        data={"username": "alice", "password": "correct horse battery staple", "csrf_token": token},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/account"


def test_a_first_use_in_ca_mode_at_the_gate_pins_the_key(
    app: Flask, db: Session, pki: Pki, tmp_path: Path, sign_in_edge: bool
) -> None:
    """CA mode with e-mail mapping: a valid certificate whose verified SAN e-mail names a
    user passes the gate on the spot, and that first use pins its key (committed, so the
    next check finds the pin)."""
    from tests.conftest import fresh_app

    ca_app = fresh_app(
        f"sqlite:///{tmp_path / 'ca.sqlite3'}",
        tmp_path,
        sign_in_edge=sign_in_edge,
        **gate_settings(tmp_path, client_ca=str(pki.ca.cert_path), cert_mapping="email"),
    )
    from app.db import EXTENSION, engine_of
    from app.models import Credential, CredentialKind

    ca_db = ca_app.extensions[EXTENSION]()
    try:
        user = factories_user(ca_db, ca_app)
        proxy = ca_app.test_client(use_cookies=False)
        headers = {**cert_header(pki.good.cert), "X-SSL-Client-Verify": "SUCCESS"}
        for _ in range(2):
            resp = nginx(proxy, f"{WIKI}/docs/", **headers)
            assert resp.status_code == 200 and resp.headers["Remote-User"] == "alice"
        ca_db.expire_all()
        pins = list(
            ca_db.scalars(select(Credential).where(Credential.kind == CredentialKind.CERTIFICATE))
        )
        assert [(c.user_id, c.source) for c in pins] == [(user.id, "ca-first-use")]
    finally:
        ca_db.close()
        engine_of(ca_app).dispose()


def factories_user(db: Session, app: Flask) -> User:
    from tests.conftest import make_user

    user = make_user(db, app, "alice", email="alice@example.org")
    user.email_verified = True
    db.commit()
    return user

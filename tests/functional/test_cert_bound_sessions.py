"""Certificate-bound sessions: where the trusted proxy forwards the client certificate with
every request (the gate; Keystile's pages in ``auto`` mode), a session opened with a
certificate holds only on requests that show that certificate's key. A copied cookie alone
is signed out, on the pages, at the sign-in edge and at the gate, audited once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, AuthSession, Credential, CredentialKind, User, utcnow
from app.services import sessions
from app.services.audit import Client
from app.web.auth_state import COOKIE
from app.web.context import session_timeouts
from tests.conftest import AuthActions, make_user
from tests.support.gate import (
    PROXY,
    WIKI,
    cert_header,
    gate_settings,
    host_session_cookie,
    nginx,
    pin,
    signed_in,
)
from tests.support.pki import Pki

MISMATCH = "auth:session:binding_mismatch"


@pytest.fixture
def app_overrides(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    return gate_settings(tmp_path, **getattr(request, "param", {}))


@pytest.fixture
def proxy(app: Flask) -> FlaskClient:
    """The trusted proxy, forwarding the browser's cookie and certificate by hand."""
    return app.test_client(use_cookies=False)


def page(proxy: FlaskClient, path: str, *, cookie: str, cert: Any = None, peer: str = PROXY) -> Any:
    headers = {"Cookie": cookie, **(cert_header(cert) if cert is not None else {})}
    return proxy.get(path, headers=headers, environ_base={"REMOTE_ADDR": peer})


def cert_sign_in(proxy: FlaskClient, cert: Any) -> str:
    """A certificate sign-in through the proxy (``auto`` mode): the session's cookie."""
    resp = proxy.get("/login", headers=cert_header(cert), environ_base={"REMOTE_ADDR": PROXY})
    assert resp.status_code == 303
    value = resp.headers["Set-Cookie"].split(";", 1)[0]
    assert value.startswith(COOKIE + "=")
    return value


def signed_in_as(
    proxy: FlaskClient, *, cookie: str, cert: Any = None, peer: str = PROXY
) -> str | None:
    """Who ``/api/session`` (the sign-in edge) and ``/account`` (Flask) both say it is."""
    api = page(proxy, "/api/session", cookie=cookie, cert=cert, peer=peer)
    account = page(proxy, "/account", cookie=cookie, cert=cert, peer=peer)
    if api.status_code == 401:
        assert account.status_code == 302 and "/login" in account.headers["Location"]
        return None
    assert api.status_code == 200 and account.status_code == 200
    return str(api.get_json()["username"])


def mismatches(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == MISMATCH)))


@pytest.fixture
def bob(db: Session, app: Flask) -> User:
    return make_user(db, app, "bob")


def test_a_certificate_session_holds_only_with_its_key(
    proxy: FlaskClient, db: Session, alice: User, bob: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    pin(db, bob, pki.good.cert)
    cookie = cert_sign_in(proxy, pki.self_signed.cert)
    assert signed_in_as(proxy, cookie=cookie, cert=pki.self_signed.cert) == "alice"
    # A renewed certificate for the same key is the same key.
    assert signed_in_as(proxy, cookie=cookie, cert=pki.renewed_self_signed.cert) == "alice"
    assert not mismatches(db)
    # The cookie alone, or with another key (even one pinned to someone), is signed out.
    assert signed_in_as(proxy, cookie=cookie) is None
    cleared = page(proxy, "/account", cookie=cookie)
    assert f"{COOKIE}=;" in cleared.headers["Set-Cookie"]
    assert signed_in_as(proxy, cookie=cookie, cert=pki.good.cert) is None
    # The session itself lives on for the browser that holds the key.
    assert signed_in_as(proxy, cookie=cookie, cert=pki.self_signed.cert) == "alice"
    (row,) = mismatches(db)  # audited once for the session, however often it is tried
    session = db.scalars(select(AuthSession).where(AuthSession.user_id == alice.id)).one()
    assert (row.user_id, row.method, row.outcome, row.reason) == (
        alice.id,
        "certificate",
        "failure",
        "key_not_presented",
    )
    assert row.details == {"session": session.id} and session.key_mismatch_at is not None
    assert session.revoked_at is None


def test_a_password_session_needs_no_certificate(
    proxy: FlaskClient, auth: AuthActions, db: Session, alice: User, pki: Pki
) -> None:
    cookie = signed_in(auth)
    assert signed_in_as(proxy, cookie=cookie) == "alice"
    assert signed_in_as(proxy, cookie=cookie, cert=pki.self_signed.cert) == "alice"
    assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).headers["Remote-User"] == "alice"
    assert not mismatches(db)


def test_at_the_gate_a_certificate_session_passes_only_with_its_key(
    proxy: FlaskClient, db: Session, alice: User, bob: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    pin(db, bob, pki.good.cert)
    cookie = cert_sign_in(proxy, pki.self_signed.cert)
    resp = nginx(proxy, f"{WIKI}/docs/", cookie=cookie, **cert_header(pki.self_signed.cert))
    assert resp.status_code == 200 and resp.headers["Remote-User"] == "alice"
    alone = nginx(proxy, f"{WIKI}/docs/", cookie=cookie)
    assert alone.status_code == 401 and "Remote-User" not in alone.headers
    # Bob's pinned certificate with Alice's cookie: neither Alice nor Bob (a held browser).
    other = nginx(proxy, f"{WIKI}/docs/", cookie=cookie, **cert_header(pki.good.cert))
    assert other.status_code == 401 and "Remote-User" not in other.headers
    assert len(mismatches(db)) == 1


def test_a_protected_host_cookie_is_bound_to_the_key_of_its_session(
    app: Flask, proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    cert_sign_in(proxy, pki.self_signed.cert)
    parent = db.scalars(select(AuthSession).where(AuthSession.user_id == alice.id)).one()
    cookie = host_session_cookie(app, db, parent)
    resp = nginx(proxy, f"{WIKI}/docs/", cookie=cookie, **cert_header(pki.self_signed.cert))
    assert resp.status_code == 200 and resp.headers["Remote-User"] == "alice"
    assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).status_code == 401
    assert len(mismatches(db)) == 1


@pytest.mark.parametrize("app_overrides", [{"cert_bound_sessions": "off"}], indirect=True)
def test_the_binding_can_be_turned_off(
    proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    pin(db, alice, pki.self_signed.cert)
    cookie = cert_sign_in(proxy, pki.self_signed.cert)
    assert signed_in_as(proxy, cookie=cookie) == "alice"
    assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).status_code == 200
    assert not mismatches(db)


def test_not_where_the_certificate_does_not_come_with_every_request(
    proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    """A request from anyone but the trusted proxy (no proxy in front: Keystile's own TLS
    serves only one of its addresses) carries no forwarded certificate to bind to."""
    pin(db, alice, pki.self_signed.cert)
    cookie = cert_sign_in(proxy, pki.self_signed.cert)
    assert signed_in_as(proxy, cookie=cookie, peer="127.0.0.1") == "alice"
    assert not mismatches(db)


@pytest.mark.parametrize(
    "app_overrides",
    [{"cert_login": "explicit", "cert_login_origin": "https://cert.localhost"}],
    indirect=True,
)
def test_explicit_mode_binds_at_the_gate_only(
    app: Flask, proxy: FlaskClient, db: Session, alice: User, pki: Pki
) -> None:
    """Explicit mode shows the certificate to a separate host once: Keystile's own pages
    never see it again, while the protected hosts' proxies forward it with every check."""
    pin(db, alice, pki.self_signed.cert)
    credential = db.scalars(
        select(Credential).where(
            Credential.user_id == alice.id, Credential.kind == CredentialKind.CERTIFICATE
        )
    ).one()
    with app.test_request_context():
        opened = sessions.start(
            db,
            user=alice,
            credential=credential,
            method="certificate",
            client=Client(),
            now=utcnow(),
            timeouts=session_timeouts(),
        )
        db.commit()
    cookie = f"{COOKIE}={opened.secret}"
    assert signed_in_as(proxy, cookie=cookie) == "alice"
    assert nginx(proxy, f"{WIKI}/docs/", cookie=cookie).status_code == 401
    ok = nginx(proxy, f"{WIKI}/docs/", cookie=cookie, **cert_header(pki.self_signed.cert))
    assert ok.status_code == 200 and ok.headers["Remote-User"] == "alice"

"""The gate's checks answered at the sign-in edge (app/edge/gate.py) and by the Flask views
are the same: one script of checks (every outcome, each way of being known, the refusals
Flask keeps) runs against an app with the edge and one without it; the answers (status,
identity headers, Location, security headers, cookies) and the audit rows must agree, and
with the edge the hot outcomes never reach Flask."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.http import parse_set_header

from app.db import EXTENSION, engine_of
from app.edge import SignInEdge
from app.models import AuthSession, Credential, CredentialKind
from app.services.gate import HEADERS as IDENTITY_HEADERS
from tests.conftest import fresh_app, make_user
from tests.support import factories
from tests.support.gate import (
    WIKI,
    cert_header,
    forward,
    gate_settings,
    host_session_cookie,
    nginx,
    pin,
    session_cookie,
)
from tests.support.pki import Pki
from tests.support.transcript import audit_since, last_audit_id

HEADERS = (
    *IDENTITY_HEADERS,
    "Remote-Assertion",
    "Location",
    "Content-Type",
    "Cache-Control",
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Strict-Transport-Security",
)
#: checks the edge answers itself; the others are Flask's (see app/edge/gate.py)
FLASK_STEPS = frozenset({"untrusted peer", "unreadable", "bound session without its key"})


@dataclass
class Transcript:
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)
    reached_flask: list[str] = field(default_factory=list)


def answer(resp: Any) -> dict[str, Any]:
    return {
        "status": resp.status_code,
        "body": resp.get_data(as_text=True),
        "headers": {h: resp.headers.get(h) for h in HEADERS},
        "vary": "cookie" in parse_set_header(resp.headers.get("Vary", "")),
        "cookies": sorted(resp.headers.getlist("Set-Cookie")),
    }


def flask_spy(app: Flask, seen: list[str]) -> None:
    edge = app.wsgi_app.wsgi_app  # type: ignore[attr-defined]  # TrustedProxyScheme's inner
    if not isinstance(edge, SignInEdge):
        return
    inner: Callable[..., Any] = edge.wsgi_app

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        seen.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    edge.wsgi_app = spy


def script(app: Flask, pki: Pki) -> Transcript:
    """The same checks, in the same order, whichever app answers them."""
    db = app.extensions[EXTENSION]()
    alice = make_user(db, app, "alice")
    proxy = app.test_client(use_cookies=False)
    key = factories.passkey(db, alice, synced=False, attested=True)
    by_key = session_cookie(app, db, alice, key, "passkey", age=timedelta(minutes=1))
    by_key_long_ago = session_cookie(app, db, alice, key, "passkey", age=timedelta(minutes=16))
    by_password = session_cookie(
        app, db, alice, _credential_of(db, alice.id, CredentialKind.PASSWORD), "password"
    )
    pin(db, alice, pki.self_signed.cert)
    bound = session_cookie(
        app, db, alice, _credential_of(db, alice.id, CredentialKind.CERTIFICATE), "certificate"
    )
    parent = db.scalar(select(AuthSession).where(AuthSession.method == "passkey").limit(1))
    assert parent is not None
    host_cookie = host_session_cookie(app, db, parent)
    first_audit = last_audit_id(db)
    out = Transcript()
    flask_spy(app, out.reached_flask)

    def note(step: str, resp: Any) -> None:
        out.answers.append((step, answer(resp)))

    certificate = cert_header(pki.self_signed.cert)
    note("bypass", nginx(proxy, f"{WIKI}/public/a", cookie=by_key))
    note("deny by default", nginx(proxy, "https://other.example.net/"))
    note("anonymous, nginx", nginx(proxy, f"{WIKI}/docs/"))
    note("anonymous, navigation", forward(proxy, "/docs/"))
    note("anonymous, POST", forward(proxy, "/docs/", "POST"))
    note("anonymous, XHR", forward(proxy, "/docs/", accept="application/json"))
    note("hardware key", nginx(proxy, f"{WIKI}/admin/x", cookie=by_key))
    note("hardware key, long ago", nginx(proxy, f"{WIKI}/admin/x", cookie=by_key_long_ago))
    note("password", nginx(proxy, f"{WIKI}/docs/", cookie=by_password))
    note("password, step up", nginx(proxy, f"{WIKI}/admin/x", cookie=by_password))
    note("not in the group", forward(proxy, "/ops/", cookie=by_password))
    note("host session", forward(proxy, "/admin/x", cookie=host_cookie))
    note(
        "host session elsewhere", forward(proxy, "/", host="tools.example.org", cookie=host_cookie)
    )
    note("dead cookie", nginx(proxy, f"{WIKI}/docs/", cookie="__Host-keystile-session=gone"))
    note("pinned certificate", nginx(proxy, f"{WIKI}/docs/", **certificate))
    note("certificate, step up", forward(proxy, "/admin/", accept="*/*", **certificate))
    note("bound session with its key", nginx(proxy, f"{WIKI}/docs/", cookie=bound, **certificate))
    note("bound session without its key", nginx(proxy, f"{WIKI}/docs/", cookie=bound))
    note("held browser", nginx(proxy, f"{WIKI}/docs/", cookie=bound + "x", **certificate))
    note("untrusted peer", nginx(proxy, f"{WIKI}/docs/", cookie=by_key, peer="192.0.2.1"))
    note("unreadable", nginx(proxy, "wiki.example.com/docs/", cookie=by_key))
    out.audit = audit_since(db, first_audit)
    db.close()
    return out


def _credential_of(db: Session, user_id: int, kind: CredentialKind) -> Credential | None:
    return db.scalar(
        select(Credential).where(Credential.user_id == user_id, Credential.kind == kind)
    )


def run(tmp_path: Path, pki: Pki, *, edge: bool) -> Transcript:
    tmp_path.mkdir()
    app = fresh_app(
        f"sqlite:///{tmp_path / 'keystile.sqlite3'}",
        tmp_path,
        sign_in_edge=edge,
        gate_assertion=True,
        **gate_settings(tmp_path),
    )
    assert isinstance(app.wsgi_app.wsgi_app, SignInEdge) is edge  # type: ignore[attr-defined]
    try:
        return script(app, pki)
    finally:
        engine_of(app).dispose()


def test_the_gate_answers_alike_at_the_edge_and_in_flask(tmp_path: Path, pki: Pki) -> None:
    with_edge = run(tmp_path / "edge", pki, edge=True)
    with_flask = run(tmp_path / "flask", pki, edge=False)
    for (step, edge), (_, flask) in zip(with_edge.answers, with_flask.answers, strict=True):
        if edge["headers"]["Remote-Assertion"]:  # signed with each app's own key, at its time
            assert flask["headers"]["Remote-Assertion"], step
            edge["headers"]["Remote-Assertion"] = flask["headers"]["Remote-Assertion"] = "signed"
        assert edge == flask, step
    assert with_edge.audit == with_flask.audit
    # only the checks the edge leaves to Flask reached it
    assert len(with_edge.reached_flask) == len(FLASK_STEPS)
    status = {step: a["status"] for step, a in with_edge.answers}
    # the script reached what it means to test
    assert status == {
        "bypass": 200,
        "deny by default": 403,
        "anonymous, nginx": 401,
        "anonymous, navigation": 302,
        "anonymous, POST": 303,
        "anonymous, XHR": 401,
        "hardware key": 200,
        "hardware key, long ago": 401,
        "password": 200,
        "password, step up": 401,
        "not in the group": 403,
        "host session": 200,
        "host session elsewhere": 302,
        "dead cookie": 401,
        "pinned certificate": 200,
        "certificate, step up": 401,
        "bound session with its key": 200,
        "bound session without its key": 401,
        "held browser": 401,
        "untrusted peer": 403,
        "unreadable": 403,
    }
    tags = [row[0] for row in with_edge.audit]
    assert tags.count("auth:session:binding_mismatch") == 1

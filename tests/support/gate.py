"""Helpers for the forward-auth gate's tests: the rules they run with, and a proxy's
checks as nginx's ``auth_request`` and Traefik/Caddy's ``forwardAuth`` send them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.gate.handoff import GATE_COOKIE
from app.models import AuthSession, User, utcnow
from app.services import cert_auth, credentials, handoff, sessions
from app.services.audit import SYSTEM, Client
from app.services.certificates import describe
from app.web.auth_state import COOKIE
from app.web.context import session_timeouts
from tests.conftest import AuthActions

PROXY = "10.9.8.7"
RULES = """
default = "deny"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/public/"]
policy = "bypass"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/admin/"]
require = { strength = "hardware-key", max_age = "15m" }
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/ops/"]
groups = ["ops"]
require = { strength = "password" }
[[rule]]
hosts = ["*.example.com", "tools.example.org"]
require = { strength = "password" }
"""
WIKI = "https://wiki.example.com"


def gate_settings(directory: Path, **extra: Any) -> dict[str, Any]:
    """Settings for an app behind the gate: :data:`RULES` in a file, :data:`PROXY` trusted."""
    rules = directory / "rules.toml"
    rules.write_text(RULES)
    return {"trusted_proxies": PROXY, "cert_login": "auto", "access_rules": str(rules), **extra}


def nginx(
    proxy: FlaskClient,
    url: str,
    method: str = "GET",
    *,
    cookie: str = "",
    peer: str = PROXY,
    **headers: str,
) -> Any:
    sent = {"X-Original-URL": url, "X-Original-Method": method, **headers}
    if cookie:
        sent["Cookie"] = cookie
    return proxy.get("/api/authz/auth-request", headers=sent, environ_base={"REMOTE_ADDR": peer})


def forward(
    proxy: FlaskClient,
    uri: str,
    method: str = "GET",
    *,
    host: str = "wiki.example.com",
    cookie: str = "",
    accept: str = "text/html,*/*;q=0.8",
    peer: str = PROXY,
    **headers: str,
) -> Any:
    sent = {
        "X-Forwarded-Method": method,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": host,
        "X-Forwarded-Uri": uri,
        "Accept": accept,
        **headers,
    }
    if cookie:
        sent["Cookie"] = cookie
    return proxy.get("/api/authz/forward-auth", headers=sent, environ_base={"REMOTE_ADDR": peer})


def signed_in(auth: AuthActions, username: str = "alice") -> str:
    resp = auth.login(username)
    assert resp.status_code == 303
    found = auth.client.get_cookie(COOKIE)
    assert found is not None
    return f"{COOKIE}={found.value}"


def session_cookie(
    app: Flask,
    db: Session,
    user: User,
    credential: Any,
    method: str,
    *,
    age: timedelta = timedelta(),
) -> str:
    """A session opened by ``credential`` ``age`` ago, as its browser's cookie."""
    with app.app_context():
        opened = sessions.start(
            db,
            user=user,
            credential=credential,
            method=method,
            client=Client(),
            now=utcnow() - age,
            timeouts=session_timeouts(),
        )
        db.execute(
            update(AuthSession).where(AuthSession.id == opened.id).values(last_seen_at=utcnow())
        )
        db.commit()
    return f"{COOKIE}={opened.secret}"


def host_session_cookie(
    app: Flask, db: Session, parent: AuthSession, host: str = "wiki.example.com"
) -> str:
    """The protected host's cookie of a session handed off from ``parent`` (issued and
    redeemed as ``/gate/continue`` and the host's hand-off path do)."""
    with app.app_context():
        code = handoff.issue(db, parent, host=host, next_url=f"https://{host}/", now=utcnow())
        db.commit()
        redeemed = handoff.redeem(
            db, code, host=host, client=Client(), now=utcnow(), timeouts=session_timeouts()
        )
    assert redeemed is not None
    return f"{GATE_COOKIE}={redeemed.secret}"


def cert_header(cert: x509.Certificate) -> dict[str, str]:
    """nginx's format: the URL-encoded PEM, and nginx's own verdict."""
    pem = cert.public_bytes(Encoding.PEM).decode()
    return {"X-SSL-Client-Cert": quote(pem, safe=""), "X-SSL-Client-Verify": "FAILED:self-signed"}


def pin(db: Session, user: User, cert: x509.Certificate) -> None:
    """Pin ``cert``'s key to ``user``, as an operator does (``keystile cert pin``)."""
    credentials.add(
        db,
        cert_auth.certificate_credential(describe(cert), source="operator", proven=True),
        user=user,
        client=SYSTEM,
        now=utcnow(),
    )


def next_of(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)

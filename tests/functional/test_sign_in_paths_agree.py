"""The sign-in edge and Flask give the same answers: one script of sign-in requests (passkey
and certificate sign-ins, refusals, the session check) is run against an app with the edge
and against one without it, and the answers (status, headers, cookies), the audit rows and
the throttle counts must be the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask
from werkzeug.http import parse_set_header

from app.db import EXTENSION, engine_of
from app.edge import SignInEdge
from app.models import utcnow
from app.services import cert_auth, credentials
from app.services.audit import SYSTEM
from app.services.certificates import describe
from tests.conftest import fresh_app, make_user
from tests.functional.conftest import Browser
from tests.support.pki import Pki
from tests.support.transcript import audit_since, last_audit_id

PROXY = "10.9.8.7"
OVERRIDES = {
    "challenge_limit_per_address": "6/minute",
    "login_limit_per_address": "4/minute",
    "trusted_proxies": PROXY,
    "cert_login": "auto",
}
#: what an answer is judged by (values that are random in every run are left out)
HEADERS = (
    "Content-Type",
    "Location",
    "Cache-Control",
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Permissions-Policy",
    "Strict-Transport-Security",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
)
RANDOM_FIELDS = frozenset(
    {"challenge", "allowCredentials", "created_at", "expires_at", "last_seen_at", "id"}
)


@dataclass
class Transcript:
    answers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    audit: list[tuple[Any, ...]] = field(default_factory=list)


def answer(resp: Any) -> dict[str, Any]:
    body = resp.get_json(silent=True)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in RANDOM_FIELDS}
    cookies = sorted(
        (
            c.split("=", 1)[0],
            ";".join(
                sorted(
                    part.strip()
                    for part in c.split(";")[1:]
                    if not part.strip().startswith("Expires")
                )
            ),
        )
        for c in resp.headers.getlist("Set-Cookie")
    )
    return {
        "status": resp.status_code,
        "body": body if body is not None else resp.mimetype,
        "headers": {h: resp.headers.get(h) for h in HEADERS},
        "vary": "cookie" in parse_set_header(resp.headers.get("Vary", "")),
        "cookies": cookies,
    }


def via_proxy(cert: Any) -> dict[str, Any]:
    from urllib.parse import quote

    pem = cert.public_bytes(Encoding.PEM).decode()
    return {
        "headers": {
            "X-SSL-Client-Cert": quote(pem, safe=""),
            "X-SSL-Client-Verify": "FAILED:self-signed",
        },
        "environ_base": {"REMOTE_ADDR": PROXY},
    }


def script(app: Flask, pki: Pki) -> Transcript:
    """The same requests, in the same order, whichever app answers them."""
    db = app.extensions[EXTENSION]()
    alice = make_user(db, app, "alice")
    browser = Browser(app.test_client())
    browser.password_login()
    registered, passkey = browser.register()
    assert registered.status_code == 201
    browser.client.post("/logout", data={"csrf_token": browser.csrf()})
    credentials.add(
        db,
        cert_auth.certificate_credential(
            describe(pki.self_signed.cert), source="operator", proven=True
        ),
        user=alice,
        client=SYSTEM,
        now=utcnow(),
    )
    out = Transcript()
    first_audit = last_audit_id(db)

    def note(step: str, resp: Any) -> None:
        out.answers.append((step, answer(resp)))

    client = browser.client
    note("session, signed out", client.get("/api/session"))
    note("options without a token", browser.post("/webauthn/login/options", {}, csrf=False))
    note("options, bad body", browser.post("/webauthn/login/options", b"[1]"))
    note("options for a name", browser.post("/webauthn/login/options", {"username": "alice"}))
    note("verify, unknown credential", browser.post("/webauthn/login/verify", {"id": "x"}))
    note("passkey sign-in", browser.login(passkey))
    note("session, by passkey", client.get("/api/session"))
    client.delete_cookie("__Host-keystile-session", domain="localhost")
    note("verify, replayed", browser.post("/webauthn/login/verify", {"id": "x"}))
    note("certificate sign-in", client.get("/login", **via_proxy(pki.self_signed.cert)))
    note("session, by certificate", client.get("/api/session"))
    client.set_cookie("__Host-keystile-session", "gone", domain="localhost")
    note("session, dead cookie", client.get("/api/session"))
    client.delete_cookie("__Host-keystile-session", domain="localhost")
    for i in range(4):
        note(f"options #{i}", browser.post("/webauthn/login/options", {}))
    for i in range(3):
        note(f"verify refused #{i}", browser.post("/webauthn/login/verify", {"id": "x"}))
    # the counts the two limits hold now, as Flask reports them
    note("options, counted by Flask", browser.post("/webauthn/login/options?via=flask", {}))
    note("verify, counted by Flask", browser.post("/webauthn/login/verify?via=flask", {"id": "x"}))
    out.audit = audit_since(db, first_audit)
    db.close()
    return out


def run(tmp_path: Path, pki: Pki, *, edge: bool) -> Transcript:
    tmp_path.mkdir()
    app = fresh_app(
        f"sqlite:///{tmp_path / 'keystile.sqlite3'}", tmp_path, sign_in_edge=edge, **OVERRIDES
    )
    assert isinstance(app.wsgi_app.wsgi_app, SignInEdge) is edge  # type: ignore[attr-defined]
    try:
        return script(app, pki)
    finally:
        engine_of(app).dispose()


def test_the_edge_and_flask_answer_alike(tmp_path: Path, pki: Pki) -> None:
    with_edge = run(tmp_path / "edge", pki, edge=True)
    with_flask = run(tmp_path / "flask", pki, edge=False)
    for (step, edge), (_, flask) in zip(with_edge.answers, with_flask.answers, strict=True):
        assert edge == flask, step
    assert with_edge.audit == with_flask.audit
    statuses = dict((step, a["status"]) for step, a in with_edge.answers)
    # the script reached what it means to test
    assert statuses["passkey sign-in"] == 200 and statuses["certificate sign-in"] == 303
    assert statuses["options #3"] == 429 and statuses["verify refused #2"] == 429
    assert {"auth:throttled", "auth:passkey:success", "auth:certificate:success"} <= {
        row[0] for row in with_edge.audit
    }

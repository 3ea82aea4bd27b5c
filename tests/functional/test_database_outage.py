"""The database unreachable: every request that needs it answers 503 with ``Retry-After``
(JSON on the API paths, a plain page elsewhere), never a 500, a trace or an allow; the
request's transaction is rolled back; service resumes by itself when the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import create_app
from app.db import engine_of
from app.models import AuditEvent, AuthSession
from app.web.auth_state import COOKIE
from app.web.security import RETRY_AFTER, database_unavailable, failure_status
from tests.conftest import PG_URL, AuthActions, make_user, require
from tests.e2e.proxies.servers import free_ports
from tests.support.browser import Browser
from tests.support.gate import PROXY, WIKI, gate_settings
from tests.support.soft_authenticator import SoftCredential

UNAVAILABLE = "Sign-in is unavailable for a moment"


def gone_url(tmp_path: Path, backend: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'missing' / 'keystile.sqlite3'}"
    return f"postgresql://postgres@127.0.0.1:{free_ports(1)[0]}/gone"


def assert_unavailable(resp: Any, *, json: bool) -> None:
    assert resp.status_code == 503, resp.get_data(as_text=True)
    # RETRY_AFTER, or on a throttled view the later of it and Flask-Limiter's window reset
    assert int(resp.headers["Retry-After"]) >= RETRY_AFTER
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "OperationalError" not in text
    if json:
        assert resp.get_json()["error"] == "unavailable"
        assert resp.get_json()["message"].startswith(UNAVAILABLE)
    else:
        assert resp.mimetype == "text/plain" and text.startswith(UNAVAILABLE)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    ("method", "path", "json"),
    [
        ("GET", "/login", False),
        ("GET", "/account", False),
        ("GET", "/admin/users", False),
        ("GET", "/api/session", True),  # answered by the sign-in edge
    ],
    ids=["login-page", "account", "admin", "api-session"],
)
def test_every_request_that_needs_the_database_answers_503(
    tmp_path: Path, backend: str, method: str, path: str, json: bool
) -> None:
    if backend == "postgresql":
        require(bool(PG_URL), "KEYSTILE_TEST_DATABASE_URL is not set")
    app = create_app(
        {
            "env": "testing",
            "secret_key": "test-secret-key-0123456789abcdefghijklmn",
            "database_url": gone_url(tmp_path, backend),
            "instance_path": str(tmp_path / "instance"),
        }
    )
    client = app.test_client()
    client.set_cookie(COOKIE, "a-session-id", domain="localhost")
    assert_unavailable(client.open(path, method=method), json=json)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused")), 503),
        (sa_exc.TimeoutError("QueuePool limit reached"), 503),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True), 503),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), 500),
        (sa_exc.ProgrammingError("SELEC", {}, Exception("syntax")), 500),
        (ValueError("a bug"), 500),
    ],
    ids=["operational", "pool-timeout", "disconnect", "integrity", "programming", "bug"],
)
def test_which_failures_mean_unavailable(exc: BaseException, status: int) -> None:
    assert database_unavailable(exc) is (status == 503)
    assert failure_status(exc) == status


def _raise_disconnect(*_args: Any, **_kwargs: Any) -> None:
    raise sa_exc.OperationalError(
        "INSERT INTO audit_events", {}, Exception("server closed the connection unexpectedly")
    )


def _counts(db: Session) -> tuple[int, int]:
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(AuthSession)) or 0,
        db.scalar(select(func.count()).select_from(AuditEvent)) or 0,
    )


def test_password_sign_in_cut_off_mid_transaction_writes_nothing(
    app: Flask, auth: AuthActions, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session row is written before the audit row fails: both are rolled back."""
    make_user(db, app, "alice")
    before = _counts(db)
    monkeypatch.setattr("app.services.signin.record", _raise_disconnect)
    resp = auth.login()
    assert_unavailable(resp, json=False)
    assert COOKIE not in resp.headers.get("Set-Cookie", "")
    assert _counts(db) == before
    monkeypatch.undo()
    assert auth.login().status_code == 303 and auth.is_signed_in()


def test_passkey_sign_in_cut_off_at_the_edge_writes_nothing(
    enrolled: SoftCredential, browser: Browser, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _counts(db)
    monkeypatch.setattr("app.services.passkeys.authentication.record", _raise_disconnect)
    resp = browser.login(enrolled)
    assert_unavailable(resp, json=True)
    assert _counts(db) == before
    assert browser.session() == {"authenticated": False}
    monkeypatch.undo()
    assert browser.login(enrolled).status_code == 200
    assert browser.session()["authenticated"] is True


@pytest.fixture
def pg_app(app: Flask) -> Iterator[Flask]:
    """The app on PostgreSQL, whose server can refuse connections and allow them again."""
    assert engine_of(app).dialect.name == "postgresql"
    yield app
    _allow_connections(app, True)


def _allow_connections(app: Flask, allowed: bool) -> None:
    """Refuse (and drop) every connection to the app's database, or allow them again."""
    url = engine_of(app).url
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                f'ALTER DATABASE "{url.database}" '
                f"ALLOW_CONNECTIONS {'true' if allowed else 'false'}"
            )
        )
        if not allowed:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
                ),
                {"name": url.database},
            )
    admin.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_gone_and_back_without_a_restart(
    pg_app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    make_user(db, pg_app, "alice")
    assert auth.login().status_code == 303
    signed_in = auth.session()
    token = auth.csrf()
    before = _counts(db)
    db.close()

    _allow_connections(pg_app, False)
    # Never an allow, never a sign-out: the session check cannot say yes or no.
    assert_unavailable(client.get("/api/session"), json=True)
    resp = client.post(
        "/login", data={"username": "alice", "password": "wrong password!", "csrf_token": token}
    )
    assert_unavailable(resp, json=False)
    assert_unavailable(client.get("/account"), json=False)
    assert client.get("/readyz").status_code == 503

    _allow_connections(pg_app, True)
    assert auth.session() == signed_in  # the same session, kept through the outage
    assert _counts(db) == before  # the refused attempt left no row
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("endpoint", ["auth-request", "forward-auth"])
def test_a_gate_check_that_needs_the_database_is_never_an_allow(
    tmp_path: Path, backend: str, endpoint: str
) -> None:
    """A protected site's check with a session cookie: 503 (which the proxy turns into a
    denial), never 200, while the database is gone (issue 14 with the gate of issue 12)."""
    if backend == "postgresql":
        require(bool(PG_URL), "KEYSTILE_TEST_DATABASE_URL is not set")
    app = create_app(
        {
            "env": "testing",
            "secret_key": "test-secret-key-0123456789abcdefghijklmn",
            "database_url": gone_url(tmp_path, backend),
            "instance_path": str(tmp_path / "instance"),
            **gate_settings(tmp_path),
        }
    )
    client = app.test_client()
    client.set_cookie(COOKIE, "a-session-id", domain="localhost")
    headers = {
        "X-Original-URL": f"{WIKI}/docs/",
        "X-Original-Method": "GET",
        "X-Forwarded-Method": "GET",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "wiki.example.com",
        "X-Forwarded-Uri": "/docs/",
    }
    resp = client.get(
        f"/api/authz/{endpoint}", headers=headers, environ_base={"REMOTE_ADDR": PROXY}
    )
    assert_unavailable(resp, json=True)
    assert "Remote-User" not in resp.headers or not resp.headers["Remote-User"]

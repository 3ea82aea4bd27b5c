"""Fixtures shared by every test: the app on SQLite (and PostgreSQL when configured)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import create_app
from app.db import EXTENSION, engine_of
from app.models import Base, Role, User, utcnow
from app.services import accounts, credentials
from app.services.audit import SYSTEM
from tests.support.pki import Pki, make_pki

PG_URL = os.environ.get("KEYSTILE_TEST_DATABASE_URL", "")
#: Every database-backed test runs on both; without KEYSTILE_TEST_DATABASE_URL the PostgreSQL
#: half shows as skipped, with the reason (and fails in CI), rather than silently missing.
BACKENDS = ["sqlite", "postgresql"]
NO_POSTGRESQL = (
    "PostgreSQL not configured: set KEYSTILE_TEST_DATABASE_URL="
    "postgresql://user@host:5432/db to run the PostgreSQL half of the suite"
)
#: fast argon2 parameters for tests; the benchmark uses the production defaults
FAST_HASH = {"argon2_memory_kib": 8192, "argon2_time_cost": 1}
PASSWORD = "correct horse battery staple"


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real part is missing, but fail in CI where every test must run."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Skipped tests counted by reason, one line each: without PostgreSQL, several hundred
    tests skip for one reason, which a line per test (pytest's ``-rs``) would bury."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            reasons[str(report.longrepr[2]).removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section("skipped tests, by reason")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:>5}  {reason}")


def _pg_worker_url(worker: str) -> str:
    """One database per xdist worker, created on first use.

    ``KEYSTILE_TEST_DATABASE_PREFIX`` keeps two checkouts' runs on one server apart.
    """
    import sqlalchemy as sa

    prefix = re.sub(r"\W", "", os.environ.get("KEYSTILE_TEST_DATABASE_PREFIX", "keystile_test_"))
    name = prefix + re.sub(r"\W", "", worker or "main")
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


_pg_ready: dict[str, bool] = {}


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('tmp_path') / 'keystile.sqlite3'}"
    require(bool(PG_URL), NO_POSTGRESQL)
    return _pg_worker_url(os.environ.get("PYTEST_XDIST_WORKER", "main"))


def make_app(database_url: str, tmp_path: Any, **overrides: Any) -> Flask:
    config = {
        "env": "testing",
        "secret_key": "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "database_url": database_url,
        "origin": "https://localhost",
        "instance_path": str(tmp_path / "instance"),
        **FAST_HASH,
        **overrides,
    }
    app = create_app(config)
    app.config["TESTING"] = True
    engine = engine_of(app)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            # A connection a previous test left open (an unread streamed response, say)
            # must not hold a lock that would make DROP TABLE wait for ever.
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            Base.metadata.create_all(conn)
    else:
        Base.metadata.create_all(engine)
    return app


def fresh_app(database_url: str, tmp_path: Any, **overrides: Any) -> Flask:
    """:func:`make_app`: a new app counts in a throttle storage of its own (in memory), so
    it starts with no throttle counts."""
    return make_app(database_url, tmp_path, **overrides)


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for every app it builds."""
    return {}


@pytest.fixture
def sign_in_edge() -> bool:
    """Whether the app answers the plain sign-in requests at its edge (app/edge); the
    sign-in test modules run both ways (tests/functional/conftest.py)."""
    return True


@pytest.fixture
def app(
    database_url: str, tmp_path: Any, app_overrides: dict[str, Any], sign_in_edge: bool
) -> Iterator[Flask]:
    application = fresh_app(
        database_url, tmp_path, **{"sign_in_edge": sign_in_edge, **app_overrides}
    )
    yield application
    engine_of(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    session: Session = app.extensions[EXTENSION]()
    yield session
    session.close()


def make_user(
    db: Session,
    app: Flask,
    username: str = "alice",
    *,
    password: str | None = PASSWORD,
    admin: bool = False,
    email: str = "",
) -> User:
    """A user (with a password unless ``password=None``), as the CLI would create one."""
    with app.app_context():
        user = accounts.create_user(
            db,
            username=username,
            client=SYSTEM,
            now=utcnow(),
            role=Role.ADMIN if admin else Role.USER,
            email=email or f"{username}@example.org",
        )
        db.commit()
        if password is not None:
            credentials.set_password(
                db,
                app.extensions["keystile.passwords"],
                user=user,
                new_password=password,
                client=SYSTEM,
                now=utcnow(),
            )
    return user


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


#: a desktop browser's User-Agent, as a device token records it
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def sign_in(
    client: FlaskClient,
    username: str = "alice",
    password: str = PASSWORD,
    address: str = "198.51.100.1",
) -> int:
    """A password sign-in through the form, from ``address`` (the socket's peer) in a
    desktop browser; the status of the form's answer."""
    env = {"REMOTE_ADDR": address, "HTTP_USER_AGENT": CHROME}
    page = client.get("/login", environ_base=env).get_data(as_text=True)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page)},
        environ_base=env,
    ).status_code


def shared_redis() -> str:
    """The Redis the suite may use (``KEYSTILE_TEST_REDIS_URL``), once it answers a ping:
    skipped locally without one, a failure in CI."""
    url = os.environ.get("KEYSTILE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        reachable = True
    except Exception:  # noqa: BLE001
        reachable = False
    require(reachable, f"Redis at {url}")
    return url


def without_csrf(html: str) -> str:
    """The page with its CSRF tokens blanked: they embed a timestamp, so two renders differ."""
    return re.sub(r'(csrf[-_]token"[^>]*(?:value|content))="[^"]*"', r'\1=""', html)


class AuthActions:
    """Sign in and out through the real forms, as the Flask tutorial's helper does."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, username: str = "alice", password: str = PASSWORD, **kw: Any) -> Any:
        token = self.csrf()
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token, **kw}
        )

    def logout(self) -> Any:
        token = self.csrf("/account") if self.is_signed_in() else self.csrf()
        return self.client.post("/logout", data={"csrf_token": token})

    def is_signed_in(self) -> bool:
        return self.client.get("/api/session").status_code == 200

    def session(self) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get("/api/session").get_json()
        return data


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, an intermediate, client certificates and a self-signed one (tests/support/pki.py);
    made once per test module."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def alice(db: Session, app: Flask) -> User:
    return make_user(db, app, "alice")

"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, its schema is at
the newest migration, Redis answers when configured)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app import create_app
from app.db import engine_of
from app.health import migrations
from tests.conftest import PG_URL, make_app, require
from tests.e2e.proxies.servers import free_ports
from tests.support.schema import stamp

REDIS_URL = os.environ.get("KEYSTILE_TEST_REDIS_URL", "")


@pytest.fixture
def stamped(app: Flask) -> Iterator[Flask]:
    """The app with its test schema recorded as the newest migration."""
    stamp(engine_of(app), "head")
    yield app
    stamp(engine_of(app), None)


def gone_database_url(tmp_path: Path, backend: str) -> str:
    """A database that cannot be reached: a file in a missing directory, or a port where
    no server listens."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'missing' / 'keystile.sqlite3'}"
    return f"postgresql://postgres@127.0.0.1:{free_ports(1)[0]}/gone"


def test_healthz_answers_without_the_database(tmp_path: Path) -> None:
    app = create_app(
        {
            "env": "testing",
            "secret_key": "test-secret-key-0123456789abcdefghijklmn",
            "database_url": gone_database_url(tmp_path, "sqlite"),
            "instance_path": str(tmp_path / "instance"),
        }
    )
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


def test_ready_when_database_answers_at_head(stamped: Flask) -> None:
    resp = stamped.test_client().get("/readyz")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "redis": "not configured"},
    }
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("revision", [None, "0002"], ids=["never-migrated", "behind"])
def test_not_ready_when_schema_is_not_at_head(
    app: Flask, client: FlaskClient, revision: str | None
) -> None:
    stamp(engine_of(app), revision)
    try:
        resp = client.get("/readyz")
    finally:
        stamp(engine_of(app), None)
    assert resp.status_code == 503
    assert resp.get_json()["checks"] == {
        "database": "ok",
        "migrations": "not at head",
        "redis": "not configured",
    }
    assert "0002" not in resp.get_data(as_text=True)  # no revision ids for the world


def test_ready_when_the_schema_is_ahead_of_this_code(app: Flask, client: FlaskClient) -> None:
    """A rolling upgrade migrates first: the instances still on the previous release stay
    in service."""
    stamp(engine_of(app), "head")
    with engine_of(app).begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    try:
        resp = client.get("/readyz")
    finally:
        stamp(engine_of(app), None)
    assert resp.status_code == 200
    assert resp.get_json()["checks"]["migrations"] == "ahead"


def test_the_heads_are_the_shipped_migrations() -> None:
    from alembic.script import ScriptDirectory

    from app.cli.dbcmd import alembic_config

    heads, known = migrations()
    scripts = ScriptDirectory.from_config(alembic_config(""))
    assert heads == {scripts.get_current_head()}
    assert {"0001", "0002", "0003"} <= known and heads <= known


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_not_ready_when_database_is_gone(tmp_path: Path, backend: str) -> None:
    if backend == "postgresql":
        require(bool(PG_URL), "KEYSTILE_TEST_DATABASE_URL is not set")
    app = create_app(
        {
            "env": "testing",
            "secret_key": "test-secret-key-0123456789abcdefghijklmn",
            "database_url": gone_database_url(tmp_path, backend),
            "instance_path": str(tmp_path / "instance"),
        }
    )
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json() == {
        "status": "unavailable",
        "checks": {"database": "unreachable", "migrations": "unknown", "redis": "not configured"},
    }
    assert "Traceback" not in resp.get_data(as_text=True)


def _ready_with_redis(database_url: str, tmp_path: Path, redis_url: str) -> Any:
    app = make_app(database_url, tmp_path, redis_url=redis_url)
    stamp(engine_of(app), "head")
    try:
        return app.test_client().get("/readyz")
    finally:
        stamp(engine_of(app), None)
        engine_of(app).dispose()


def test_degraded_but_ready_when_redis_does_not_answer(database_url: str, tmp_path: Path) -> None:
    """Throttling falls back to per-process memory, so the instance still serves; the
    answer says so, and says it is degraded."""
    resp = _ready_with_redis(database_url, tmp_path, f"redis://127.0.0.1:{free_ports(1)[0]}/0")
    assert resp.status_code == 200
    assert resp.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "migrations": "ok", "redis": "unreachable"},
    }


def test_ready_with_redis(database_url: str, tmp_path: Path) -> None:
    require(bool(REDIS_URL), "KEYSTILE_TEST_REDIS_URL is not set")
    resp = _ready_with_redis(database_url, tmp_path, REDIS_URL)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["checks"]["redis"] == "ok"

"""The database engine and the per-request SQLAlchemy session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

EXTENSION = "keystile.db"
#: seconds to wait for a PostgreSQL connection (unless the URL sets ``connect_timeout``)
CONNECT_TIMEOUT = 5


def default_database_url(instance_path: str) -> str:
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'keystile.sqlite3'}"


def make_engine(url: str) -> Engine:
    """An engine with the settings Keystile relies on (foreign keys and WAL on SQLite)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # pool_pre_ping: a connection the server dropped (a restart, a failover) is replaced
    # before use, so service resumes by itself when the database is back. A bounded connect
    # time turns an unreachable server into a quick 503 rather than a hung worker.
    connect_args = {} if "connect_timeout=" in url else {"connect_timeout": CONNECT_TIMEOUT}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args
    )


def init_app(app: Flask, url: str) -> None:
    engine = make_engine(url)
    app.extensions[EXTENSION] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def engine_of(app: Flask) -> Engine:
    factory: sessionmaker[Session] = app.extensions[EXTENSION]
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


def get_db() -> Session:
    """The SQLAlchemy session of the current app context, opened on first use."""
    if "db" not in g:
        from flask import current_app

        g.db = current_app.extensions[EXTENSION]()
    db: Session = g.db
    return db


def _close_session(_exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()

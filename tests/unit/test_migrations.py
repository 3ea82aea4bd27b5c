"""Alembic migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.cli.dbcmd import upgrade
from app.db import make_engine
from app.models import Base


def test_migrations_match_models(database_url: str) -> None:
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert diff == [], diff
    assert {
        "users",
        "credentials",
        "sessions",
        "audit_events",
        "account_requests",
        "one_time_tokens",
        "notices",
    } <= tables

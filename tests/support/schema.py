"""The Alembic revision a test database claims to be at (tests build their schema with
``create_all``, which records none)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from app.cli.dbcmd import alembic_config


def stamp(engine: Engine, revision: str | None) -> None:
    """Record ``revision`` (``head`` or an id) as the schema's, or no revision at all."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    if revision is not None:
        command.stamp(alembic_config(engine.url.render_as_string(hide_password=False)), revision)

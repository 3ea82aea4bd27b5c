"""``keystile db upgrade``: build or migrate the schema with Alembic."""

from __future__ import annotations

import click
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext

from app.db import engine_of
from app.resources import MIGRATIONS


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def known_revision(revision: str) -> bool:
    """``head``, or (a unique prefix of) one of Keystile's migration ids."""
    if revision in {"head", "heads"}:
        return True
    ids = [r.revision for r in ScriptDirectory.from_config(alembic_config("")).walk_revisions()]
    return len([i for i in ids if i.startswith(revision)]) == 1 if revision else False


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def upgrade_cmd(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    if not known_revision(revision):
        raise click.BadParameter(
            f"no migration {revision!r}; use head or a revision id", param_hint="REVISION"
        )
    url = engine_of(current_app).url.render_as_string(hide_password=False)
    upgrade(url, revision)
    click.echo(f"database at {revision}")

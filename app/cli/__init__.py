"""Operator commands: ``keystile ...`` (also ``flask --app app ...``)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register(app: Flask) -> None:
    from app.cli import dbcmd, users

    for group in (dbcmd.db, users.user, users.request):
        app.cli.add_command(group)
    for name in ("dev", "ca", "cert", "passkey", "proxy", "audit", "report"):
        _optional(app, name)


def _optional(app: Flask, name: str) -> None:
    """Command groups of later areas register themselves when their module exists."""
    import importlib

    try:
        module = importlib.import_module(f"app.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"app.cli.{name}":
            raise
        return
    for command in module.COMMANDS:
        app.cli.add_command(command)


def _create() -> Flask:
    from app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def main() -> None:
    """Keystile: sign-in with certificates, passkeys and passwords."""

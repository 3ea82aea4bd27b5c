"""Operator commands: ``keystile ...`` (also ``flask --app app ...``)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register(app: Flask) -> None:
    for command in commands():
        app.cli.add_command(command)


def commands() -> list[click.Command]:
    """Every command group: the core ones, then those of later areas whose module exists."""
    from app.cli import dbcmd, users

    found: list[click.Command] = [dbcmd.db, users.user, users.request]
    for name in (
        "dev",
        "ca",
        "cert",
        "passkey",
        "proxy",
        "audit",
        "report",
        "group",
        "access",
        "housekeeping",
    ):
        found.extend(_optional(name))
    return found


def _optional(name: str) -> list[click.Command]:
    """Command groups of later areas register themselves when their module exists."""
    import importlib

    try:
        module = importlib.import_module(f"app.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"app.cli.{name}":
            raise
        return []
    return list(module.COMMANDS)


class KeystileGroup(FlaskGroup):
    """A :class:`FlaskGroup` that knows its commands without building the app.

    FlaskGroup builds the app to list or look up commands, so ``keystile --help`` failed on a
    missing KEYSTILE_SECRET_KEY. Keystile's commands are all known in advance (:func:`commands`)
    and each one builds the app when it runs (``@with_appcontext``), so help needs no
    configuration while a real command still stops on an invalid one.
    """

    def _add_keystile_commands(self) -> None:
        self._load_plugin_commands()  # FlaskGroup's own: ``flask.commands`` entry points
        for command in commands():
            if command.name not in self.commands:
                self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_keystile_commands()
        return click.Group.list_commands(self, ctx)  # skips FlaskGroup's: it builds the app

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._add_keystile_commands()
        return click.Group.get_command(self, ctx, name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # No name, id, path or key of Keystile's holds a NUL, and PostgreSQL text cannot.
        if any("\x00" in arg for arg in args):
            raise click.UsageError("an argument contains a NUL character", ctx)
        return super().parse_args(ctx, args)


def _create() -> Flask:
    from app import create_app

    return create_app()


@click.group(
    cls=KeystileGroup,
    create_app=_create,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Keystile: sign-in with certificates, passkeys and passwords."""

"""``keystile group list [--json] | add USER GROUP | remove USER GROUP``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from app.db import get_db
from app.models import User, utcnow
from app.services import accounts, groups
from app.services.audit import SYSTEM
from app.services.groups import GroupError


@click.group()
def group() -> None:
    """Groups that access rules admit (``groups = [...]``)."""


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
def list_groups(as_json: bool) -> None:
    """List every group and its members."""
    found = groups.members(get_db())
    if as_json:
        click.echo(
            json.dumps(
                [{"group": name, "members": names} for name, names in found.items()], indent=2
            )
        )
        return
    if not found:
        click.echo("no groups")
    for name, names in found.items():
        click.echo(f"{name}: {', '.join(names)}")


def _user(username: str) -> User:
    found = accounts.find_user(get_db(), username)
    if found is None:
        raise click.ClickException(f"no user {username!r}")
    return found


@group.command("add")
@click.argument("username")
@click.argument("group_name", metavar="GROUP")
@with_appcontext
def add(username: str, group_name: str) -> None:
    """Put USERNAME in GROUP (audited)."""
    db = get_db()
    target = _user(username)
    try:
        added = groups.add(db, target, group_name, client=SYSTEM, now=utcnow())
    except GroupError as exc:
        raise click.ClickException(exc.message) from None
    db.commit()
    name = groups.group_name(group_name)
    click.echo(
        f"added {target.username} to {name}" if added else f"{target.username} is already in {name}"
    )


@group.command("remove")
@click.argument("username")
@click.argument("group_name", metavar="GROUP")
@with_appcontext
def remove(username: str, group_name: str) -> None:
    """Take USERNAME out of GROUP (audited)."""
    db = get_db()
    target = _user(username)
    try:
        removed = groups.remove(db, target, group_name, client=SYSTEM, now=utcnow())
    except GroupError as exc:
        raise click.ClickException(exc.message) from None
    db.commit()
    name = groups.group_name(group_name)
    if not removed:
        raise click.ClickException(f"{target.username} is not in {name}")
    click.echo(f"removed {target.username} from {name}")


COMMANDS = [group]

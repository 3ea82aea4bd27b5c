"""``keystile audit export``: the audit trail as CSV or JSON Lines, streamed to stdout."""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import with_appcontext

from app.db import get_db
from app.services import accounts, audit_queries
from app.services.audit_queries import AuditFilter, ExportFormat


def _bound(end: bool) -> object:
    def convert(_ctx: click.Context, param: click.Parameter, value: str | None
                ) -> datetime | None:
        try:
            return audit_queries.parse_bound(value or "", end=end)
        except ValueError:
            raise click.BadParameter("use a date like 2026-01-31 or an ISO datetime",
                                     param=param) from None

    return convert


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice([f.value for f in ExportFormat]),
              default=ExportFormat.CSV.value, show_default=True)
@click.option("--since", callback=_bound(False), help="From this date or time (UTC).")
@click.option("--until", callback=_bound(True),
              help="Up to this date (inclusive) or time (exclusive), UTC.")
@click.option("--user", "username", default="", help="Events about or done by this user.")
@click.option("--method", default="", help="password, certificate or passkey.")
@click.option("--event", "tag", default="", help="An event tag, e.g. auth:password:failure.")
@click.option("--outcome", type=click.Choice(["", "success", "failure"]), default="")
@with_appcontext
def export(fmt: str, since: datetime | None, until: datetime | None, username: str,
           method: str, tag: str, outcome: str) -> None:
    """Write matching events to stdout, oldest first, in constant memory."""
    db = get_db()
    if username and accounts.find_user(db, username) is None:
        raise click.ClickException(f"no user {username!r}")
    flt = AuditFilter(username=username, method=method, tag=tag, outcome=outcome,
                      since=since, until=until)
    out = sys.stdout
    try:
        for chunk in audit_queries.export(db, flt, ExportFormat(fmt)):
            out.write(chunk)
        out.flush()
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        sys.stderr.close()


COMMANDS = [audit_group]

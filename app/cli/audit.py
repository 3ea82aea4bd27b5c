"""``keystile audit export``: the audit trail as CSV or JSON Lines, streamed to stdout."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.db import get_db
from app.models import utcnow
from app.services import accounts, audit_queries, audit_retention
from app.services.audit_queries import AuditFilter, ExportFormat


def _bound(end: bool) -> object:
    def convert(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
        try:
            return audit_queries.parse_bound(value or "", end=end)
        except ValueError:
            raise click.BadParameter(
                "use a date like 2026-01-31 or an ISO datetime", param=param
            ) from None

    return convert


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.CSV.value,
    show_default=True,
)
@click.option("--since", callback=_bound(False), help="From this date or time (UTC).")
@click.option(
    "--until", callback=_bound(True), help="Up to this date (inclusive) or time (exclusive), UTC."
)
@click.option("--user", "username", default="", help="Events about or done by this user.")
@click.option("--method", default="", help="password, certificate or passkey.")
@click.option("--event", "tag", default="", help="An event tag, e.g. auth:password:failure.")
@click.option("--outcome", type=click.Choice(["", "success", "failure"]), default="")
@with_appcontext
def export(
    fmt: str,
    since: datetime | None,
    until: datetime | None,
    username: str,
    method: str,
    tag: str,
    outcome: str,
) -> None:
    """Write matching events to stdout, oldest first, in constant memory."""
    db = get_db()
    if username and accounts.find_user(db, username) is None:
        raise click.ClickException(f"no user {username!r}")
    flt = AuditFilter(
        username=username, method=method, tag=tag, outcome=outcome, since=since, until=until
    )
    out = sys.stdout
    try:
        for chunk in audit_queries.export(db, flt, ExportFormat(fmt)):
            out.write(chunk)
        out.flush()
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        sys.stderr.close()


@audit_group.command("prune")
@click.option(
    "--before",
    callback=_bound(False),
    required=True,
    help="Delete events before this date or time (UTC); not in the future.",
)
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="First write those events to this new file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in ExportFormat]),
    default=ExportFormat.CSV.value,
    show_default=True,
    help="The export's format.",
)
@with_appcontext
def prune(before: datetime | None, export_path: Path | None, fmt: str) -> None:
    """Delete the audit events before a date, after exporting them if asked (audited)."""
    if before is None:
        raise click.BadParameter("give a date like 2026-01-31", param_hint="--before")
    db = get_db()
    try:
        if export_path is None:
            pruned = audit_retention.prune(db, before=before, now=utcnow())
        else:
            pruned = _prune_exporting(db, before, export_path, ExportFormat(fmt))
    except audit_retention.RetentionError as exc:
        raise click.BadParameter(str(exc), param_hint="--before") from None
    exported = "" if pruned.exported is None else f"exported {pruned.exported} to {export_path}, "
    click.echo(f"{exported}deleted {pruned.deleted} events before {before.isoformat()}")


def _prune_exporting(
    db: Session, before: datetime, path: Path, fmt: ExportFormat
) -> audit_retention.Pruned:
    """The export goes to a new file (never over an earlier one), on disk before deleting."""
    if before > utcnow():  # before creating the file
        raise audit_retention.RetentionError(
            "The date is in the future: only past events can be pruned."
        )
    try:
        out = path.open("x", encoding="utf-8", newline="")
    except FileExistsError:
        raise click.BadParameter(f"{path} exists; give a new file", param_hint="--export") from None
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {path}: {exc.strerror}", param_hint="--export"
        ) from None
    written = False

    def sync() -> None:
        nonlocal written
        out.flush()
        os.fsync(out.fileno())
        written = True

    try:
        with out:
            return audit_retention.prune(
                db,
                before=before,
                now=utcnow(),
                export=(out.write, fmt),
                export_name=str(path),
                flush=sync,
            )
    except BaseException:
        if not written:  # nothing was deleted: no half-written export left behind
            path.unlink(missing_ok=True)
        raise


COMMANDS = [audit_group]

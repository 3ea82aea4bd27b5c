"""``keystile report credentials``: who can sign in how, one line or object per user."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from app.db import get_db
from app.services import reports
from app.services.text import json_text, terminal_text


@click.group("report")
def report_group() -> None:
    """Reports on users and their credentials."""


@report_group.command("credentials")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object a user.")
@with_appcontext
def credentials(as_json: bool) -> None:
    """Counts by kind and strength, the strongest credential and the earliest certificate
    expiry of every user, in username order (streamed)."""
    out = sys.stdout
    rows = reports.credentials_report(get_db())
    if as_json:
        out.write("[")
        for n, row in enumerate(rows):
            out.write(("," if n else "") + "\n" + json_text(row))
        out.write("\n]\n")
        return
    for row in rows:
        kinds = " ".join(f"{k}={v}" for k, v in row["by_kind"].items())
        expiry = row["earliest_certificate_expiry"] or "-"
        out.write(terminal_text(f"{row['username']:<24} {row['strongest'] or 'none':<15} "
                                f"{kinds} cert-expiry={expiry}") + "\n")


COMMANDS = [report_group]

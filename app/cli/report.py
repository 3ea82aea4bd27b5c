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
        out.write(
            terminal_text(
                f"{row['username']:<24} {row['strongest'] or 'none':<15} "
                f"{kinds} cert-expiry={expiry}"
            )
            + "\n"
        )


COMMANDS = [report_group]


@report_group.command("attacks")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--minutes",
    type=click.IntRange(1, 7 * 24 * 60),
    default=60,
    show_default=True,
    help="How far back to look.",
)
@with_appcontext
def attacks(as_json: bool, minutes: int) -> None:
    """Password guessing over the last hour: failed sign-ins and their rate, refusals by
    reason, the addresses sending most failures and the accounts most guessed at."""
    from datetime import timedelta

    from app.models import utcnow
    from app.services.attacks import attack_report

    report = attack_report(get_db(), now=utcnow(), window=timedelta(minutes=minutes))
    out = sys.stdout
    if as_json:
        out.write(json_text(report.as_dict()) + "\n")
        return
    out.write(
        f"since {report.since:%Y-%m-%d %H:%M} UTC: {report.failures} failed password "
        f"sign-ins ({report.failures_per_minute}/minute), {report.unknown_usernames} "
        f"naming no account\n"
    )
    refusals = ", ".join(f"{reason} {count}" for reason, count in report.refusals) or "none"
    out.write(f"refused (keys per window): {refusals}\n")
    # Usernames here are whatever the guesses named: shown with control characters made visible.
    for a in report.top_addresses:
        out.write(
            terminal_text(
                f"address  {a.address:<40} {a.failures:>7} failures  {a.accounts} accounts"
            )
            + "\n"
        )
    for u in report.targeted_accounts:
        out.write(
            terminal_text(
                f"account  {u.username:<40} {u.failures:>7} failures  "
                f"{u.addresses} addresses  since {u.first_at:%Y-%m-%d %H:%M}"
            )
            + "\n"
        )

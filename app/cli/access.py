"""``keystile access check``: which rule matches a request, and what the gate decides."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.db import get_db
from app.models import utcnow
from app.services import accounts, gate
from app.services.access import AccessRules, Outcome, decide, strength_name
from app.web.context import settings


@click.group()
def access() -> None:
    """Access rules for sites behind the forward-auth gate."""


@access.command("check")
@click.option("--host", required=True, help="The protected host, e.g. wiki.example.com.")
@click.option("--path", required=True, help="The request target, e.g. /admin/?x=1.")
@click.option("--method", default="GET", show_default=True)
@click.option(
    "--user",
    "username",
    default="",
    help="Decide for this user, signed in just now with their strongest credential "
    "(default: nobody signed in).",
)
@with_appcontext
def check(host: str, path: str, method: str, username: str) -> None:
    """Print the rule that matches, the decision and why."""
    if not settings().access_rules:
        raise click.ClickException("KEYSTILE_ACCESS_RULES is not set: no protected hosts")
    rules: AccessRules = current_app.extensions["keystile.access_rules"]
    now = utcnow()
    subject = None
    if username:
        db = get_db()
        user = accounts.find_user(db, username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        live = user.active_credentials()
        strongest = max(live, key=lambda c: c.strength, default=None)
        identity = gate.identity_of(
            db,
            user,
            strength=gate.credential_strength(strongest),
            method=strongest.kind.value if strongest else "",
            signed_in_at=now,
        )
        subject = identity.subject
        have = strength_name(subject.strength) if subject.strength else "no credential"
        groups = ",".join(sorted(subject.groups)) or "none"
        click.echo(
            f"user: {user.username} (role {subject.role}, groups {groups}, "
            f"strongest credential {have}, as if signed in now)"
        )
    decision = decide(rules, host=host, target=path, method=method, subject=subject, now=now)
    if decision.rule is None:
        click.echo(f"rule: none (default {rules.default})")
    else:
        click.echo(f"rule: {decision.rule.number}: {decision.rule.summary()}")
    click.echo(f"decision: {decision.outcome}")
    click.echo(f"why: {decision.reason}")
    if decision.outcome in (Outcome.SIGN_IN, Outcome.STEP_UP) and decision.needed:
        click.echo(f"needs: {strength_name(decision.needed)}")


COMMANDS = [access]

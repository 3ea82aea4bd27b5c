"""``keystile user ...`` and ``keystile request ...``."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.db import get_db
from app.models import CredentialKind, Role, User, utcnow
from app.models.base import MAX_ID
from app.services import accounts, credentials
from app.services.accounts import AccountError
from app.services.audit import SYSTEM, Event
from app.services.notices import notify
from app.services.passwords import PasswordPolicyError
from app.services.text import json_text, terminal_text
from app.web.context import mailer, passwords, settings


def enrolment_url(secret: str) -> str:
    return f"{settings().origin.rstrip('/')}/enroll/{secret}"


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option("--email", default="", help="Contact e-mail address.")
@click.option("--password-stdin", is_flag=True, help="Read a password from standard input.")
@with_appcontext
def create(username: str, admin: bool, email: str, password_stdin: bool) -> None:
    """Create USERNAME; prints a one-time enrolment link unless a password is given."""
    db = get_db()
    now = utcnow()
    try:
        new = accounts.create_user(
            db,
            username=username,
            email=email,
            client=SYSTEM,
            now=now,
            role=Role.ADMIN if admin else Role.USER,
        )
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
            credentials.set_password(
                db, passwords(), user=new, new_password=password, client=SYSTEM, now=now
            )
            click.echo(f"created {new.username}")
            return
        secret = accounts.issue_enrolment_link(db, new, client=SYSTEM, now=now)
        db.commit()
    except (AccountError, PasswordPolicyError) as exc:
        db.rollback()
        _fail(exc.message)
        return
    click.echo(f"created {new.username}; enrolment link (valid 72 hours, use once):")
    click.echo(enrolment_url(secret))


@user.command("link")
@click.argument("username")
@with_appcontext
def link(username: str) -> None:
    """A new one-time set-up link for USERNAME (recovery; earlier links stop working).

    The way to recover an administrator, whose account the web pages give no link for.
    """
    db = get_db()
    target = accounts.find_user(db, username)
    if target is None or not target.is_active:
        _fail(f"no active user {username!r}")
        return
    secret = accounts.issue_enrolment_link(db, target, client=SYSTEM, now=utcnow())
    notify(
        db,
        target,
        str(Event.ENROLMENT_LINK_ISSUED),
        "An operator issued a new set-up link for your account. If you did not ask for it, "
        "tell your administrator.",
        mailer=mailer(),
    )
    db.commit()
    click.echo(f"set-up link for {target.username} (valid 72 hours, use once):")
    click.echo(enrolment_url(secret))


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@with_appcontext
def list_users(as_json: bool) -> None:
    """List users with their credential counts by kind."""
    rows = []
    for u in get_db().scalars(select(User).order_by(User.username_normalized)):
        counts = {k.value: 0 for k in CredentialKind}
        for c in u.active_credentials():
            counts[c.kind.value] += 1
        rows.append(
            {
                "username": u.username,
                "display_name": u.display_name,
                "email": u.email,
                "role": str(u.role),
                "status": str(u.status),
                "credentials": counts,
                "created_at": u.created_at.isoformat(),
                "last_sign_in_at": u.last_sign_in_at.isoformat() if u.last_sign_in_at else None,
            }
        )
    if as_json:
        click.echo(json_text(rows, indent=2))
        return
    for r in rows:
        by_kind = r["credentials"]
        assert isinstance(by_kind, dict)
        kinds = ", ".join(f"{k}={v}" for k, v in by_kind.items())
        click.echo(terminal_text(f"{r['username']:<24} {r['role']:<6} {r['status']:<9} {kinds}"))


@click.group()
def request() -> None:
    """Account requests."""


@request.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_requests(as_json: bool) -> None:
    """List pending account requests."""
    rows = [
        {
            "id": r.id,
            "username": r.username,
            "display_name": r.display_name,
            "email": r.email,
            "message": r.message,
            "created_at": r.created_at.isoformat(),
            "username_taken": accounts.find_user(get_db(), r.username) is not None,
        }
        for r in accounts.pending_requests(get_db())
    ]
    if as_json:
        click.echo(json_text(rows, indent=2))
        return
    if not rows:
        click.echo("no pending requests")
    for r in rows:
        taken = " (username taken)" if r["username_taken"] else ""
        click.echo(
            terminal_text(f"#{r['id']} {r['username']} <{r['email']}>{taken} {r['message']!r}")
        )


@request.command("approve")
@click.argument("request_id", type=click.IntRange(1, MAX_ID))
@click.option(
    "--username",
    default=None,
    help="Create the account under this username (the requested one is taken).",
)
@with_appcontext
def approve(request_id: int, username: str | None) -> None:
    """Approve a request: creates the user and prints their enrolment link."""
    db = get_db()
    try:
        new, secret = accounts.approve_request(
            db, request_id, client=SYSTEM, now=utcnow(), username=username, mailer=mailer()
        )
    except AccountError as exc:
        db.rollback()
        _fail(exc.message)
        return
    click.echo(f"approved #{request_id}: created {new.username}; enrolment link:")
    click.echo(enrolment_url(secret))


@request.command("reject")
@click.argument("request_id", type=click.IntRange(1, MAX_ID))
@with_appcontext
def reject(request_id: int) -> None:
    """Reject a request."""
    db = get_db()
    try:
        accounts.reject_request(db, request_id, client=SYSTEM, now=utcnow())
    except AccountError as exc:
        _fail(exc.message)
        return
    click.echo(f"rejected #{request_id}")

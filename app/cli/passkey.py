"""``keystile passkey list USERNAME``: a user's passkeys, for operators and scripts;
``keystile passkey prune-challenges``: housekeeping for the one-time challenges."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from app.db import get_db
from app.models import Credential, CredentialKind, utcnow
from app.services import accounts, passkeys
from app.services.text import json_text, terminal_text


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def describe(c: Credential) -> dict[str, Any]:
    """One passkey as the JSON output shows it (a stable contract: scripts read it)."""
    return {
        "id": c.id,
        "credential_id": c.lookup_key,
        "label": c.label,
        "model_name": c.model_name,
        "aaguid": c.aaguid,
        "attestation_format": c.attestation_format,
        "attestation_trust": c.attestation_trust,
        "backup_eligible": bool(c.backup_eligible),
        "backup_state": bool(c.backup_state),
        "device_type": "synced" if c.backup_eligible else "device-bound",
        "sign_count": c.sign_count,
        "transports": list(c.transports or []),
        "created_at": _iso(c.created_at),
        "last_used_at": _iso(c.last_used_at),
        "clone_flagged_at": _iso(c.clone_flagged_at),
        "possible_clone": c.clone_flagged_at is not None,
        "revoked_at": _iso(c.revoked_at),
    }


@click.group()
def passkey() -> None:
    """Passkeys and security keys."""


@passkey.command("list")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--all", "include_revoked", is_flag=True, help="Include removed passkeys.")
@with_appcontext
def list_passkeys(username: str, as_json: bool, include_revoked: bool) -> None:
    """List USERNAME's passkeys: model, AAGUID, backup state, sign count, clone flag."""
    user = accounts.find_user(get_db(), username)
    if user is None:
        raise click.ClickException(f"no such user: {username}")
    rows = [
        describe(c)
        for c in user.credentials
        if c.kind is CredentialKind.PASSKEY and (include_revoked or c.revoked_at is None)
    ]
    if as_json:
        click.echo(json_text(rows, indent=2))
        return
    if not rows:
        click.echo(f"{user.username} has no passkeys")
    for r in rows:
        flags = " POSSIBLE CLONE" if r["possible_clone"] else ""
        flags += " (removed)" if r["revoked_at"] else ""
        click.echo(
            terminal_text(
                f"#{r['id']} {r['label'] or r['model_name'] or 'Unknown model'}"
                f" [{r['aaguid']}] {r['device_type']}"
                f"{', backed up' if r['backup_state'] else ''}"
                f" · attestation {r['attestation_format']}/{r['attestation_trust']}"
                f" · sign count {r['sign_count']}"
                f" · last used {r['last_used_at'] or 'never'}{flags}"
            )
        )


@passkey.command("prune-challenges")
@with_appcontext
def prune_challenges() -> None:
    """Delete expired passkey challenges (run it from cron, e.g. hourly)."""
    click.echo(f"deleted {passkeys.prune_challenges(get_db(), now=utcnow())} expired challenges")


COMMANDS = [passkey]

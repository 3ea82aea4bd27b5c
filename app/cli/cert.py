"""``keystile cert ...``: operators pin, list and revoke users' certificates."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.db import get_db
from app.models import CredentialKind, utcnow
from app.services import accounts, cert_auth, credentials
from app.services.audit import SYSTEM
from app.services.certificates import CertificateError, describe, load_certificate
from app.services.credentials import CredentialError
from app.services.text import json_text, terminal_text


@click.group("cert")
def cert_group() -> None:
    """Users' certificates."""


def refuse_after_sunset() -> None:
    """Stop a command that would pin a certificate once certificate sign-in has ended."""
    policy = current_app.extensions["keystile.cert_policy"].policy()
    if cert_auth.pinning_closed(policy, utcnow()):
        raise click.ClickException(
            f"certificate sign-in ended on {policy.sunset.refused_from:%Y-%m-%d} "
            "(KEYSTILE_CERT_SUNSET and its grace period): a pinned certificate could not "
            "sign in"
        )


@cert_group.command("pin")
@click.argument("username")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--label", default="")
@with_appcontext
def pin(username: str, file: Path, label: str) -> None:
    """Pin the public key of the certificate in FILE (PEM or DER) to USERNAME."""
    refuse_after_sunset()
    db = get_db()
    user = accounts.find_user(db, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    try:
        facts = describe(load_certificate(file.read_bytes()))
        credentials.add(
            db,
            cert_auth.certificate_credential(facts, source="operator", proven=False, label=label),
            user=user,
            client=SYSTEM,
            now=utcnow(),
            details=cert_auth.audit_details(facts),
        )
    except (CertificateError, CredentialError) as exc:
        raise click.ClickException(exc.message) from None
    click.echo(terminal_text(f"pinned {facts.spki_sha256} ({facts.subject}) to {user.username}"))


@cert_group.command("list")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def list_certs(username: str, as_json: bool) -> None:
    """List USERNAME's certificates (revoked ones included)."""
    db = get_db()
    user = accounts.find_user(db, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    rows = [
        {
            "id": c.id,
            "label": c.label,
            "spki_sha256": c.lookup_key,
            "subject": c.subject,
            "issuer": c.issuer,
            "serial": c.serial,
            "not_before": c.not_before.isoformat() if c.not_before else None,
            "not_after": c.not_after.isoformat() if c.not_after else None,
            "source": c.source,
            "proven": c.proven,
            "created_at": c.created_at.isoformat(),
            "last_used_at": c.last_used_at.isoformat() if c.last_used_at else None,
            "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None,
        }
        for c in user.credentials
        if c.kind is CredentialKind.CERTIFICATE
    ]
    if as_json:
        click.echo(json_text(rows, indent=2))
        return
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        click.echo(
            terminal_text(f"{r['spki_sha256']}  {state:<7} {r['subject']}  until {r['not_after']}")
        )


@cert_group.command("revoke")
@click.argument("spki_sha256")
@click.option("--reason", default="revoked by operator")
@with_appcontext
def revoke(spki_sha256: str, reason: str) -> None:
    """Revoke the certificate pinned with this SPKI SHA-256; its sessions end at once."""
    db = get_db()
    key = spki_sha256.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise click.BadParameter(
            "an SPKI SHA-256 is 64 hexadecimal digits", param_hint="SPKI_SHA256"
        )
    cred = credentials.find(db, CredentialKind.CERTIFICATE, key)
    if cred is None:
        raise click.ClickException("no certificate with that SPKI SHA-256")
    try:
        ended = credentials.remove(
            db, cred, client=SYSTEM, now=utcnow(), reason=reason, allow_last=True
        )
    except CredentialError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"revoked {spki_sha256} of {cred.user.username}; {ended} sessions ended")


COMMANDS = [cert_group]

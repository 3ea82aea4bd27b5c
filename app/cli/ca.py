"""``keystile ca ...``: Keystile's own certificate authority."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.cli.cert import refuse_after_sunset
from app.db import get_db
from app.models import Credential, CredentialKind, utcnow
from app.services import accounts, ca, cert_auth, credentials
from app.services.audit import SYSTEM
from app.services.ca import MAX_DAYS
from app.services.certificates import CertificateError, describe
from app.services.credentials import CredentialError
from app.web.context import settings


def ca_dir() -> Path:
    return Path(settings().ca_dir or Path(current_app.instance_path) / "ca")


def load_ca() -> ca.CertificateAuthority:
    try:
        return ca.load(ca_dir())
    except CertificateError as exc:
        raise click.ClickException(exc.message + " Run `keystile ca init` first.") from None


@click.group("ca")
def ca_group() -> None:
    """Keystile's certificate authority (for CSR signing and test certificates)."""


@ca_group.command("init")
@click.option("--name", default="Keystile CA", help="The CA's common name.")
@with_appcontext
def init(name: str) -> None:
    """Create the CA in the instance folder (never replaces an existing one)."""
    try:
        ca.save(ca.init_ca(common_name=name), ca_dir())
    except CertificateError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"CA created in {ca_dir()}; trust {ca_dir() / ca.CA_CERT_FILE} as a client CA")


@ca_group.command("issue")
@click.argument("username")
@click.option(
    "--p12",
    "p12_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write certificate and key here (PKCS#12); a relative path is taken in "
    "the instance folder, beside the database, so the private key never lands "
    "in a checkout.",
)
@click.option("--password", default="", help="PKCS#12 password (default: a random one).")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, MAX_DAYS))
@with_appcontext
def issue(username: str, p12_path: Path, password: str, days: int) -> None:
    """Issue a client certificate for USERNAME and pin it to the account.

    Import the file into the browser as docs/certificates.md describes.
    """
    refuse_after_sunset()
    p12_path = in_instance(p12_path)
    authority = load_ca()
    db = get_db()
    user = accounts.find_user(db, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    try:
        cert, key = ca.issue_client_certificate(
            authority, common_name=user.username, email=user.email or None, valid_days=days
        )
    except CertificateError as exc:
        raise click.ClickException(exc.message) from None
    assert key is not None
    secret = password or secrets.token_urlsafe(12)
    facts = describe(cert)
    # The key file first: a pin whose private key was never written would be a credential
    # nobody holds.
    _write_private(
        p12_path,
        ca.to_pkcs12(cert, key, password=secret.encode(), friendly_name=user.username.encode()),
    )
    try:
        credentials.add(
            db,
            cert_auth.certificate_credential(facts, source="ca", proven=True),
            user=user,
            client=SYSTEM,
            now=utcnow(),
            details=cert_auth.audit_details(facts),
        )
    except CredentialError as exc:
        p12_path.unlink(missing_ok=True)
        raise click.ClickException(exc.message) from None
    click.echo(
        f"wrote {p12_path} for {user.username} (serial {facts.serial}, "
        f"SPKI SHA-256 {facts.spki_sha256})"
    )
    if not password:
        click.echo(f"PKCS#12 password: {secret}")
    click.echo("Import it into the browser (docs/certificates.md), then open the https address.")


@ca_group.command("crl")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the CRL (default: crl.pem beside the CA).",
)
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(1, MAX_DAYS),
    help="Valid for this many days.",
)
@with_appcontext
def crl(out: Path | None, days: int) -> None:
    """Write the CRL of revoked certificates this CA issued."""
    from datetime import timedelta

    from cryptography.hazmat.primitives.serialization import Encoding

    authority = load_ca()
    issuer = authority.cert.subject.rfc4514_string()
    revoked = []
    for cred in get_db().scalars(
        select(Credential).where(
            Credential.kind == CredentialKind.CERTIFICATE,
            Credential.revoked_at.is_not(None),
            Credential.issuer == issuer,
        )
    ):
        if cred.serial and cred.revoked_at:
            revoked.append((int(cred.serial, 16), cred.revoked_at))
    path = out or ca_dir() / "crl.pem"
    try:
        built = ca.build_crl(authority, revoked, now=utcnow(), next_update=timedelta(days=days))
    except CertificateError as exc:
        raise click.ClickException(exc.message) from None
    try:
        path.write_bytes(built.public_bytes(Encoding.PEM))
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
    click.echo(f"wrote {path} ({len(revoked)} revoked)")


def in_instance(path: Path) -> Path:
    """A relative path, taken in the instance folder (created 0700 if missing): the
    ``.p12`` holds a private key, which belongs beside the database, never in the current
    directory (a checkout, where git would offer to commit it)."""
    if path.is_absolute():
        return path
    folder = Path(current_app.instance_path)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {folder}: {exc.strerror}") from None
    return folder / path


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file only its owner may read (0600 from the start); an existing file, maybe
    another user's key, is never overwritten."""
    if path.exists():
        raise click.ClickException(f"{path} exists; choose another path")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        path.chmod(0o600)
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


COMMANDS = [ca_group]

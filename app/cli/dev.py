"""``keystile dev serve``: every sign-in method on one machine, no proxy needed.

- https://localhost:8443: Keystile's own TLS, asking for an optional client certificate
  signed by the development CA (Python's TLS cannot accept unknown issuers, so pinned
  self-signed certificates need a proxy such as nginx with ``optional_no_ca``).
- http://localhost:8080: the same site over plain HTTP. Browsers treat http://localhost
  as a secure context, so passkeys work here, while they refuse WebAuthn on a page whose
  certificate they do not trust.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.serving import make_server

from app.cli.ca import ca_dir
from app.db import get_db
from app.models import Role, User, utcnow
from app.services import accounts, ca
from app.services.audit import SYSTEM
from app.services.certificates import CertificateError

#: what to run, in another terminal, for a certificate: the development settings of
#: ``make run`` (its secret key, its database and CA under instance/) come with it
ISSUE_COMMAND = "KEYSTILE_ENV=development .venv/bin/keystile ca issue NAME --p12 NAME.p12"


def _ensure_ca() -> ca.CertificateAuthority:
    try:
        return ca.load(ca_dir())
    except CertificateError:
        authority = ca.init_ca(common_name="Keystile Development CA")
        ca.save(authority, ca_dir())
        return authority


def _server_context(authority: ca.CertificateAuthority, folder: Path) -> ssl.SSLContext:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    crt, key_path = folder / "localhost.crt", folder / "localhost.key"
    if not crt.exists():
        cert, key = ca.issue_server_certificate(authority, hostnames=["localhost"])
        crt.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + authority.cert.public_bytes(serialization.Encoding.PEM)
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key_path)
    ctx.load_verify_locations(cafile=str(ca_dir() / ca.CA_CERT_FILE))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _first_admin_link() -> str | None:
    db = get_db()
    if db.scalar(select(User).where(User.role == Role.ADMIN)) is not None:
        return None
    admin = accounts.find_user(db, "admin") or accounts.create_user(
        db, username="admin", role=Role.ADMIN, client=SYSTEM, now=utcnow()
    )
    secret = accounts.issue_enrolment_link(db, admin, client=SYSTEM, now=utcnow())
    db.commit()
    return secret


@click.group("dev")
def dev_group() -> None:
    """Development helpers."""


@dev_group.command("serve")
@click.option("--host", default="localhost", show_default=True)
@click.option("--https-port", default=8443, show_default=True, type=click.IntRange(1, 65535))
@click.option("--http-port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@with_appcontext
def serve(host: str, https_port: int, http_port: int) -> None:
    """Serve the site over https (certificates) and http://localhost (passkeys)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    authority = _ensure_ca()
    ctx = _server_context(authority, Path(app.instance_path) / "dev-tls")
    secret = _first_admin_link()
    try:
        tls = make_server(host, https_port, app, threaded=True, ssl_context=ctx)
        plain = make_server(host, http_port, app, threaded=True)
    except (OSError, UnicodeError) as exc:
        raise click.ClickException(f"cannot serve on {host}: {exc}") from None
    click.echo(
        f"Keystile development server\n"
        f"  https://{host}:{https_port}  certificates (dev CA: {ca_dir() / 'ca.crt'})\n"
        f"  http://{host}:{http_port}   passkeys and passwords\n"
        f"  a client certificate for a user (written to {app.instance_path}):\n"
        f"    {ISSUE_COMMAND}\n"
        "  then import it into the browser: docs/certificates.md"
    )
    if secret:
        click.echo(
            f"Set up the first admin (one-time link):\n  http://{host}:{http_port}/enroll/{secret}"
        )
    threading.Thread(target=tls.serve_forever, daemon=True).start()
    try:
        plain.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        tls.shutdown()
        plain.server_close()


@dev_group.command("echo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=click.IntRange(1, 65535))
def echo(host: str, port: int) -> None:
    """A demo site for the forward-auth gate: answers with the headers it received."""
    from app.gate import echo as site

    click.echo(f"echoing requests on http://{host}:{port}")
    try:
        site.serve(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None


COMMANDS = [dev_group]

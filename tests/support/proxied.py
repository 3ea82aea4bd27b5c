"""A certificate as a trusted proxy forwards it (nginx's header format), for the test client.

The real proxies doing real handshakes are in tests/e2e; these helpers send what nginx
sends, so the functional tests can check the certificate rules quickly and exactly.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, Credential, User, utcnow
from app.services import cert_auth, credentials
from app.services.audit import SYSTEM
from app.services.certificates import describe

PROXY = "10.9.8.7"
CLIENT = "203.0.113.5"


def nginx_headers(
    cert: x509.Certificate | None, verify: str = "FAILED:self-signed"
) -> dict[str, str]:
    if cert is None:
        return {"X-SSL-Client-Verify": "NONE"}
    pem = cert.public_bytes(Encoding.PEM).decode()
    return {
        "X-SSL-Client-Cert": quote(pem, safe=""),
        "X-SSL-Client-Verify": verify,
        "X-Forwarded-For": CLIENT,
    }


def via_proxy(cert: x509.Certificate | None, **extra: str) -> dict[str, Any]:
    return {"headers": {**nginx_headers(cert), **extra}, "environ_base": {"REMOTE_ADDR": PROXY}}


def pin(db: Session, user: User, cert: x509.Certificate, *, proven: bool = True) -> Credential:
    return credentials.add(
        db,
        cert_auth.certificate_credential(describe(cert), source="operator", proven=proven),
        user=user,
        client=SYSTEM,
        now=utcnow(),
    )


def events(db: Session, tag: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.tag == tag).order_by(AuditEvent.id)))


def start_link(client: FlaskClient, **kwargs: Any) -> str:
    """Explicit mode: the sign-in page's link to the certificate host (with this browser's
    state), as a path on that host."""
    page = client.get("/login", **kwargs).get_data(as_text=True)
    found = re.search(r'href="https://cert\.localhost([^"]+)" id="certificate-signin"', page)
    assert found is not None
    return html.unescape(found.group(1))

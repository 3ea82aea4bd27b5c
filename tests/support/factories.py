"""Factories for credentials of every kind, stored through ``credentials.add``.

Certificates here are rows, not real X.509 (for reports and admin pages); tests of
certificate sign-in pin real ones from ``tests/support/pki.py``.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, User, utcnow
from app.services import credentials
from app.services.audit import SYSTEM

_serial = itertools.count(1)


def certificate(
    db: Session,
    user: User,
    *,
    not_after: datetime | None = None,
    subject: str = "",
    issuer: str = "CN=Example CA",
) -> Credential:
    n = next(_serial)
    now = utcnow()
    return credentials.add(
        db,
        Credential(
            kind=CredentialKind.CERTIFICATE,
            lookup_key=hashlib.sha256(b"cert%d" % n).hexdigest(),
            public_key=b"spki-%d" % n,
            subject=subject or f"CN={user.username}",
            issuer=issuer,
            serial=f"{n:x}",
            not_before=now - timedelta(days=1),
            not_after=not_after or now + timedelta(days=365),
            source="operator",
            proven=True,
        ),
        user=user,
        client=SYSTEM,
        now=now,
    )


def passkey(
    db: Session,
    user: User,
    *,
    synced: bool,
    attested: bool = False,
    model: str = "",
    clone_flagged: bool = False,
) -> Credential:
    n = next(_serial)
    now = utcnow()
    return credentials.add(
        db,
        Credential(
            kind=CredentialKind.PASSKEY,
            lookup_key=f"credential-id-{n}",
            public_key=b"cose-%d" % n,
            sign_count=0 if synced else 7,
            backup_eligible=synced,
            backup_state=synced,
            aaguid="cb69481e-8ff7-4039-93ec-0a2729a154a8",
            model_name=model or ("Google Password Manager" if synced else "YubiKey 5 Series"),
            attestation_format="packed" if attested else "none",
            attestation_trust="verified" if attested else "none",
            transports=["usb"],
            clone_flagged_at=now if clone_flagged else None,
        ),
        user=user,
        client=SYSTEM,
        now=now,
    )

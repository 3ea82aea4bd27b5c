"""The passkeys an account holds: its live credential rows, for the ``excludeCredentials``
(§5.4) and ``allowCredentials`` lists, and their ids for the Signal API
(:func:`accepted_credential_ids`, §5.1.10).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, User


def accepted_credential_ids(db: Session, user: User) -> list[str]:
    """The ids of ``user``'s live passkeys (for the Signal API, §5.1.10)."""
    return [
        str(key)
        for key in db.scalars(
            select(Credential.lookup_key)
            .where(
                Credential.user_id == user.id,
                Credential.kind == CredentialKind.PASSKEY,
                Credential.revoked_at.is_(None),
            )
            .order_by(Credential.id)
        )
    ]


def _live_passkeys(user: User | None) -> list[Credential]:
    if user is None:
        return []
    return [c for c in user.active_credentials() if c.kind is CredentialKind.PASSKEY]

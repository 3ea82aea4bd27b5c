"""Random secrets that are stored only as hashes: session ids, enrolment links, codes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from app.models import OneTimeToken, TokenPurpose, table_of
from app.models.base import Executor, connection_of

# Plain statements, built once: a token is written and spent on every WebAuthn ceremony,
# and neither needs the ORM's unit of work.
_TABLE = table_of(OneTimeToken)
_INSERT = insert(_TABLE)
_SPEND = (
    update(_TABLE)
    .where(
        _TABLE.c.token_hash == bindparam("spent_hash"),
        _TABLE.c.purpose == bindparam("spent_purpose"),
        _TABLE.c.used_at.is_(None),
        _TABLE.c.expires_at > bindparam("spent_at"),
    )
    .values(used_at=bindparam("spent_at"))
    .returning(_TABLE.c.user_id, _TABLE.c.credential_id, _TABLE.c.payload)
)


@dataclass(frozen=True)
class SpentToken:
    """What a used-up token carried."""

    user_id: int | None
    credential_id: int | None
    payload: dict[str, Any] = field(default_factory=dict)


def new_secret() -> str:
    """256 bits from the OS CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (no salt needed: it is not a password)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def issue(
    db: Executor,
    purpose: TokenPurpose,
    *,
    now: datetime,
    lifetime: timedelta,
    user_id: int | None = None,
    credential_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> str:
    """Store a new one-time token and return its secret (shown once, never stored)."""
    secret = new_secret()
    connection_of(db).execute(
        _INSERT,
        {
            "token_hash": digest(secret),
            "purpose": str(purpose),
            "user_id": user_id,
            "credential_id": credential_id,
            "payload": payload or {},
            "created_at": now,
            "expires_at": now + lifetime,
            "used_at": None,
        },
    )
    return secret


def peek(db: Session, purpose: TokenPurpose, secret: str, *, now: datetime) -> OneTimeToken | None:
    """The live token for ``secret`` without using it up, or None."""
    if not secret or len(secret) > 128:
        return None
    token = db.scalar(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == digest(secret), OneTimeToken.purpose == str(purpose)
        )
    )
    if token is None or token.used_at is not None or token.expires_at <= now:
        return None
    return token


def consume(db: Session, purpose: TokenPurpose, secret: str, *, now: datetime) -> SpentToken | None:
    """Use a token up, atomically: of two concurrent calls only one gets the row.

    The token is spent even if what follows fails, so a challenge or code is never
    tried twice (threat model C.11).
    """
    if not secret or len(secret) > 128:
        return None
    # One UPDATE ... RETURNING: the database decides which of two racing calls wins.
    row = (
        connection_of(db)
        .execute(
            _SPEND, {"spent_hash": digest(secret), "spent_purpose": str(purpose), "spent_at": now}
        )
        .first()
    )
    if row is None:
        return None
    return SpentToken(row.user_id, row.credential_id, dict(row.payload or {}))

"""Random secrets that are stored only as hashes: session ids, enrolment links, codes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import OneTimeToken, TokenPurpose


def new_secret() -> str:
    """256 bits from the OS CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (no salt needed: it is not a password)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def issue(
    db: Session,
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
    db.add(
        OneTimeToken(
            token_hash=digest(secret),
            purpose=str(purpose),
            user_id=user_id,
            credential_id=credential_id,
            payload=payload or {},
            created_at=now,
            expires_at=now + lifetime,
        )
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


def consume(
    db: Session, purpose: TokenPurpose, secret: str, *, now: datetime
) -> OneTimeToken | None:
    """Use a token up, atomically: of two concurrent calls only one gets the row.

    The token is spent even if what follows fails, so a challenge or code is never
    tried twice (threat model C.11).
    """
    if not secret or len(secret) > 128:
        return None
    # One UPDATE ... RETURNING: the database decides which of two racing calls wins.
    return db.scalars(
        update(OneTimeToken)
        .where(
            OneTimeToken.token_hash == digest(secret),
            OneTimeToken.purpose == str(purpose),
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(OneTimeToken)
    ).first()

"""Device tokens (issue #17; OWASP's device-cookie pattern against account lockout).

A browser that signed in to an account holds a token for it. Wrong passwords from a client
without a valid token for the account count against the account's limit; a client with one
has an allowance of its own, so that guesses from elsewhere never lock the owner out. Tokens
are listed on the account page and can be revoked there, and "sign out everywhere" ends them
when the user asks. Only the hash of a token's secret is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import DeviceToken, User, normalize_username
from app.services.audit import Client, Event, record

#: a browser keeps tokens for at most this many accounts (the cookie stays small)
MAX_PER_BROWSER = 5


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue(db: Session, user: User, *, user_agent: str, now: datetime, lifetime: timedelta) -> str:
    """A new token for ``user`` (in ``db``'s transaction); returns its secret."""
    secret = secrets.token_urlsafe(32)
    db.add(
        DeviceToken(
            secret_hash=_hash(secret),
            user_id=user.id,
            created_at=now,
            last_used_at=now,
            expires_at=now + lifetime,
            user_agent=user_agent[:512],
        )
    )
    return secret


def find(
    db: Session, secrets_held: Iterable[str], *, username: str, now: datetime
) -> DeviceToken | None:
    """The live token among ``secrets_held`` for the account ``username`` names, if any;
    its last use is set to ``now`` (in ``db``'s transaction)."""
    hashes = [_hash(s) for s in list(secrets_held)[:MAX_PER_BROWSER]]
    if not hashes:
        return None
    token = db.scalar(
        select(DeviceToken)
        .join(User, User.id == DeviceToken.user_id)
        .where(
            DeviceToken.secret_hash.in_(hashes),
            DeviceToken.expires_at > now,
            User.username == normalize_username(username),
        )
    )
    if token is not None:
        token.last_used_at = now
    return token


def valid_for(db: Session, secret: str, *, user_id: int, now: datetime) -> bool:
    """Whether ``secret`` is a live token of ``user_id`` (a browser that signs in again
    keeps the token it holds)."""
    return (
        db.scalar(
            select(DeviceToken.id).where(
                DeviceToken.secret_hash == _hash(secret),
                DeviceToken.user_id == user_id,
                DeviceToken.expires_at > now,
            )
        )
        is not None
    )


def live_for_user(db: Session, user_id: int, *, now: datetime) -> list[DeviceToken]:
    return list(
        db.scalars(
            select(DeviceToken)
            .where(DeviceToken.user_id == user_id, DeviceToken.expires_at > now)
            .order_by(DeviceToken.last_used_at.desc(), DeviceToken.id.desc())
        )
    )


def revoke(db: Session, user: User, token_id: int, *, client: Client) -> bool:
    """Forget one of ``user``'s tokens (audited); False if it is not theirs. Commits."""
    token = db.get(DeviceToken, token_id)
    if token is None or token.user_id != user.id:
        return False
    db.delete(token)
    record(
        db, Event.DEVICES_FORGOTTEN, client=client, success=True, user=user, details={"count": 1}
    )
    db.commit()
    return True


def revoke_all(db: Session, user: User, *, client: Client) -> int:
    """Forget every token of ``user`` (audited, in ``db``'s transaction); how many."""
    result = db.execute(delete(DeviceToken).where(DeviceToken.user_id == user.id))
    count = int(getattr(result, "rowcount", 0))
    record(
        db,
        Event.DEVICES_FORGOTTEN,
        client=client,
        success=True,
        user=user,
        details={"count": count},
    )
    return count


def prune(db: Session, *, now: datetime) -> int:
    """Delete expired tokens (housekeeping); how many."""
    result = db.execute(delete(DeviceToken).where(DeviceToken.expires_at <= now))
    return int(getattr(result, "rowcount", 0))

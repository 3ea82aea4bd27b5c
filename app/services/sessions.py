"""Server-side sessions (OWASP ASVS V7): random ids, stored hashed, idle and absolute timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.models import AuthSession, Credential, User, table_of
from app.services import sign_in_notices, tokens
from app.services.audit import Client
from app.services.notices import NULL_MAILER, Mailer

#: how stale ``last_seen_at`` may get before a request writes it again
TOUCH_INTERVAL = timedelta(seconds=60)

_SESSIONS = table_of(AuthSession)
_INSERT = insert(_SESSIONS).returning(_SESSIONS.c.id)
#: the session with its user, in one query (every signed-in request reads both)
_BY_TOKEN = (select(AuthSession).options(joinedload(AuthSession.user))
             .where(AuthSession.token_hash == bindparam("token_hash")))


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


def start(
    db: Session,
    *,
    user: User,
    credential: Credential | None,
    method: str,
    client: Client,
    now: datetime,
    timeouts: Timeouts,
) -> tuple[str, AuthSession]:
    """Open a new session in the caller's transaction; returns the cookie value (shown once)
    and the row.

    One INSERT ... RETURNING on every sign-in; the row is then handed to ``db`` as already
    stored, so that later changes to it (ending it) are written as usual.
    """
    secret = tokens.new_secret()
    values = {
        "token_hash": tokens.digest(secret),
        "user_id": user.id,
        "credential_id": credential.id if credential is not None else None,
        "method": method,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + timeouts.absolute,
        "address": client.address[:64],
        "user_agent": client.user_agent[:512],
        "revoked_at": None,
        "revoked_reason": None,
    }
    row = AuthSession(id=db.execute(_INSERT, values).scalar_one(), **values)
    make_transient_to_detached(row)
    set_committed_value(row, "user", user)
    set_committed_value(row, "credential", credential)
    db.add(row)
    return secret, row


def open_for_sign_in(
    db: Session,
    *,
    user: User,
    credential: Credential | None,
    method: str,
    client: Client,
    now: datetime,
    timeouts: Timeouts,
    replacing: AuthSession | None = None,
    mailer: Mailer = NULL_MAILER,
) -> tuple[str, AuthSession]:
    """The session a successful sign-in opens; commits the sign-in's transaction.

    The browser's previous session ends (threat model E.20: every sign-in gets a new id),
    and a first sign-in by a new method is told to the user (:mod:`sign_in_notices`).
    """
    if replacing is not None:
        end(db, replacing, now=now, reason="replaced by new sign-in")
    sign_in_notices.notify_if_new_method(db, user, method, mailer=mailer)
    secret, row = start(db, user=user, credential=credential, method=method, client=client,
                        now=now, timeouts=timeouts)
    db.commit()
    return secret, row


def resolve(db: Session, secret: str, *, now: datetime, timeouts: Timeouts) -> AuthSession | None:
    """The live session for a cookie value, or None (expired, idle, revoked, unknown)."""
    if not secret or len(secret) > 128:
        return None
    row = db.scalar(_BY_TOKEN, {"token_hash": tokens.digest(secret)})
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= timeouts.idle:
        return None
    if not row.user.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        db.commit()
    return row


def describe(row: AuthSession | None) -> dict[str, object]:
    """What ``GET /api/session`` tells a browser about its session."""
    if row is None:
        return {"authenticated": False}
    return {"authenticated": True, "username": row.user.username, "method": row.method,
            "credential_id": row.credential_id}


def end(db: Session, row: AuthSession, *, now: datetime, reason: str) -> None:
    """Revoke one session (the caller commits)."""
    row.revoked_at = now
    row.revoked_reason = reason


def end_all(
    db: Session,
    *,
    user_id: int,
    now: datetime,
    reason: str,
    except_id: int | None = None,
    credential_id: int | None = None,
) -> int:
    """Revoke a user's live sessions (or those opened by one credential); the caller commits."""
    stmt = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if except_id is not None:
        stmt = stmt.where(AuthSession.id != except_id)
    if credential_id is not None:
        stmt = stmt.where(AuthSession.credential_id == credential_id)
    result = db.execute(
        stmt.values(revoked_at=now, revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0))


def live_for_user(db: Session, user_id: int, *, now: datetime) -> list[AuthSession]:
    return list(
        db.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.last_seen_at.desc())
        )
    )

"""Single sign-on to protected hosts without a parent-domain cookie.

Keystile's session cookie stays host-only. To carry a sign-in to a protected host,
Keystile issues a one-time code bound to the session and to that host
(:func:`issue`, on Keystile's host), the browser takes it to a path on the protected host
that the proxy routes to Keystile, and :func:`redeem` there opens a session of that host
(:class:`app.models.GateSession`) tied to the Keystile session, whose cookie the response
sets on that host. The gate then finds the person by that cookie (:func:`resolve`).

The code lives :data:`LIFETIME`, is spent on first use, also when it is presented on the
wrong host, and is worth nothing once the Keystile session has ended. Ending the Keystile
session (sign-out, "sign out everywhere", an administrator's revocation, expiry) ends
every host session it made at the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.orm import Session

from app.models import AuthSession, GateSession, TokenPurpose
from app.services import sessions, tokens
from app.services.audit import Client, Event, record

LIFETIME = timedelta(seconds=60)


@dataclass(frozen=True)
class Redeemed:
    """A host session just opened: the cookie value (shown once) and where to go."""

    secret: str
    next_url: str
    expires_at: datetime


def issue(db: Session, parent: AuthSession, *, host: str, next_url: str, now: datetime) -> str:
    """A one-time code that opens a session on ``host`` from ``parent`` (the caller
    commits)."""
    return tokens.issue(
        db,
        TokenPurpose.GATE_HANDOFF,
        now=now,
        lifetime=LIFETIME,
        user_id=parent.user_id,
        credential_id=parent.credential_id,
        payload={"session": parent.id, "host": host, "next": next_url},
    )


def redeem(
    db: Session, code: str, *, host: str, client: Client, now: datetime, timeouts: sessions.Timeouts
) -> Redeemed | None:
    """Spend ``code`` on ``host``; None (the code spent all the same) when it is unknown,
    used, expired, meant for another host, or its Keystile session has ended. Commits."""
    spent = tokens.consume(db, TokenPurpose.GATE_HANDOFF, code, now=now)
    db.commit()
    if spent is None or spent.payload.get("host") != host:
        return None
    session_id = spent.payload.get("session")
    parent = db.get(AuthSession, session_id) if isinstance(session_id, int) else None
    if parent is None or not sessions.is_live(parent, now=now, timeouts=timeouts):
        return None
    secret = tokens.new_secret()
    db.add(
        GateSession(
            token_hash=tokens.digest(secret),
            parent_id=parent.id,
            host=host,
            created_at=now,
            last_seen_at=now,
            expires_at=parent.expires_at,
        )
    )
    db.flush()
    record(
        db,
        Event.GATE_HANDOFF,
        client=client,
        success=True,
        user=parent.user,
        credential=parent.credential,
        method=parent.method,
        details={"host": host},
    )
    db.commit()
    return Redeemed(secret, str(spent.payload.get("next", "")), parent.expires_at)


def resolve(
    db: Session,
    secret: str,
    *,
    host: str,
    now: datetime,
    timeouts: sessions.Timeouts,
    binding: sessions.KeyBinding | None = None,
) -> AuthSession | None:
    """The live Keystile session behind a host session's cookie on ``host``, or None.

    Both must be live: the host session within its own idle timeout
    (:func:`_host_session_live`), the Keystile session as :func:`sessions.resolve` judges
    it (its certificate's key shown, where ``binding`` asks for it). Activity on a
    protected host keeps the Keystile session from idling out, as activity on Keystile's
    pages does.
    """
    if not secret or len(secret) > 128:
        return None
    row = db.scalar(select(GateSession).where(GateSession.token_hash == tokens.digest(secret)))
    if row is None or not _host_session_live(
        row.host, row.expires_at, row.last_seen_at, host=host, now=now, timeouts=timeouts
    ):
        return None
    parent = row.parent
    if not sessions.is_live(parent, now=now, timeouts=timeouts):
        return None
    if not sessions.keeps_key(db, parent, binding=binding, now=now):
        return None
    if now - row.last_seen_at >= sessions.TOUCH_INTERVAL:
        row.last_seen_at = now
        parent.last_seen_at = max(parent.last_seen_at, now)
        db.commit()
    return parent


def peek_live(
    conn: Connection,
    secret: str,
    *,
    host: str,
    now: datetime,
    timeouts: sessions.Timeouts,
    binding: sessions.KeyBinding | None = None,
) -> Row[Any] | None:
    """:func:`resolve`'s Keystile session as one plain row of
    :data:`sessions.LIVE_COLUMNS` and :data:`sessions.IDENTITY_COLUMNS`
    (:func:`sessions.peek_live`), judged and touched alike.

    Raises:
        sessions.KeyNotPresented: the session is live but bound to a key this request does
            not show; the caller hands the request to :func:`resolve`, which audits it.
    """
    if not secret or len(secret) > 128:
        return None
    found = conn.execute(_PEEK, {"token_hash": tokens.digest(secret)}).first()
    if (
        found is None
        or not _host_session_live(
            found.host,
            found.host_expires_at,
            found.host_last_seen_at,
            host=host,
            now=now,
            timeouts=timeouts,
        )
        or not sessions.row_is_live(found, now=now, timeouts=timeouts, binding=binding)
    ):
        return None
    if now - found.host_last_seen_at >= sessions.TOUCH_INTERVAL:
        conn.execute(_TOUCH, {"host_session_id": found.host_session_id, "now": now})
        if now > found.last_seen_at:
            sessions.touch(conn, found.id, now=now)
        conn.commit()
    return found


def _host_session_live(
    its_host: str,
    expires_at: datetime,
    last_seen_at: datetime,
    *,
    host: str,
    now: datetime,
    timeouts: sessions.Timeouts,
) -> bool:
    """A host session holds only on its own host, before it expires, while not idle."""
    return its_host == host and now < expires_at and now - last_seen_at < timeouts.idle


_PEEK = sessions.live_select(
    *sessions.IDENTITY_COLUMNS,
    GateSession.id.label("host_session_id"),
    GateSession.host,
    GateSession.expires_at.label("host_expires_at"),
    GateSession.last_seen_at.label("host_last_seen_at"),
).where(
    GateSession.parent_id == AuthSession.id,
    GateSession.token_hash == bindparam("token_hash"),
)
_TOUCH = (
    update(GateSession)
    .where(GateSession.id == bindparam("host_session_id"))
    .values(last_seen_at=bindparam("now"))
)

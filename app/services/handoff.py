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

from sqlalchemy import select
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

    Both must be live: the host session within its own idle timeout, the Keystile session
    as :func:`sessions.resolve` judges it (its certificate's key shown, where ``binding``
    asks for it). Activity on a protected host keeps the Keystile
    session from idling out, as activity on Keystile's pages does.
    """
    if not secret or len(secret) > 128:
        return None
    row = db.scalar(select(GateSession).where(GateSession.token_hash == tokens.digest(secret)))
    if (
        row is None
        or row.host != host
        or now >= row.expires_at
        or now - row.last_seen_at >= timeouts.idle
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

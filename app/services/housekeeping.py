"""Housekeeping: delete the rows nothing can use any more (``keystile housekeeping``).

Ended sessions (with the protected hosts' sessions handed off from them), spent or expired
enrolment and certificate sign-in links, passkey challenges, and expired device tokens. Each
is kept for :data:`RETAIN` after it stopped working, so that a late request is still told
why it is refused ("that link was used"), and the audit trail keeps the history.

Safe to run from cron on every instance at once: each kind is one ``DELETE`` whose rows are
counted by the database as it deletes them, so when two runs race, the second finds the rows
the first deleted already gone (PostgreSQL re-checks a locked row once its deleter commits;
SQLite runs one writer at a time), nothing fails and nothing is counted twice. Every run
writes one audit row with its own counts, in the transaction that deletes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from app.models import AuthSession, GateSession, OneTimeToken, TokenPurpose
from app.services import devices
from app.services.audit import SYSTEM, Event, record
from app.services.passkeys import prune_challenges
from app.services.passkeys.challenges import PRUNE_AFTER
from app.services.sessions import Timeouts

#: how long a row is kept after it stopped working
RETAIN = timedelta(days=7)
#: links that are not passkey challenges (those go after :data:`PRUNE_AFTER`)
_LINKS = (str(TokenPurpose.ENROLMENT), str(TokenPurpose.CERT_LOGIN))


@dataclass(frozen=True)
class Removed:
    """How many rows one run deleted, by kind."""

    sessions: int
    #: protected hosts' sessions (``gate_sessions``): expired, or handed off from a session
    #: deleted here
    gate_sessions: int
    links: int
    challenges: int
    #: device tokens past their expiry
    devices: int


def run(db: Session, *, now: datetime, timeouts: Timeouts) -> Removed:
    """Delete what stopped working before ``now - RETAIN``, audit the counts, commit."""
    cutoff = now - RETAIN
    stopped: ColumnElement[bool] = or_(
        AuthSession.expires_at <= cutoff,
        AuthSession.revoked_at <= cutoff,
        AuthSession.last_seen_at <= cutoff - timeouts.idle,
    )
    # The protected hosts' sessions first, so that they are counted here rather than left
    # to the foreign key's cascade.
    handed_off = db.execute(
        delete(GateSession)
        .where(
            or_(
                GateSession.expires_at <= cutoff,
                GateSession.parent_id.in_(select(AuthSession.id).where(stopped)),
            )
        )
        .execution_options(synchronize_session=False)
    )
    ended = db.execute(
        delete(AuthSession).where(stopped).execution_options(synchronize_session=False)
    )
    links = db.execute(
        delete(OneTimeToken)
        .where(
            OneTimeToken.purpose.in_(_LINKS),
            or_(OneTimeToken.expires_at <= cutoff, OneTimeToken.used_at <= cutoff),
        )
        .execution_options(synchronize_session=False)
    )
    removed = Removed(
        sessions=_count(ended),
        gate_sessions=_count(handed_off),
        links=_count(links),
        challenges=prune_challenges(db, now=now - PRUNE_AFTER, commit=False),
        devices=devices.prune(db, now=cutoff),
    )
    record(db, Event.HOUSEKEEPING, client=SYSTEM, success=True, details=asdict(removed))
    db.commit()
    return removed


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0))

"""Is someone guessing passwords? The figures an operator and a targeted user are shown.

Read from ``audit_events`` over a recent window (issue 17): the rate of wrong guesses
(password sign-ins that failed), refusals by reason (``auth:throttled`` rows: ``throttled``
for a spent limit, ``busy`` for the hash budget; each is written once per key and window,
so they count refused keys rather than requests), the addresses sending most failures and
the accounts most guessed at. A user is told about their own account without the
addresses: only how many wrong passwords, from how many addresses, since when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from app.services.audit import Event

WINDOW = timedelta(hours=1)
TOP = 10
#: a user hears about wrong passwords over this period, from this many on
NOTICE_WINDOW = timedelta(days=7)
NOTICE_FROM = 10


@dataclass(frozen=True)
class AddressFigures:
    address: str
    failures: int
    accounts: int  #: distinct known accounts it named


@dataclass(frozen=True)
class AccountFigures:
    username: str
    failures: int
    addresses: int
    first_at: datetime


@dataclass(frozen=True)
class AttackReport:
    since: datetime
    until: datetime
    failures: int  #: failed password sign-ins in the window
    unknown_usernames: int  #: of those, naming no account
    refusals: tuple[tuple[str, int], ...]  #: (reason, refused keys)
    top_addresses: tuple[AddressFigures, ...]
    targeted_accounts: tuple[AccountFigures, ...]

    @property
    def failures_per_minute(self) -> float:
        minutes = max(1.0, (self.until - self.since).total_seconds() / 60)
        return round(self.failures / minutes, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "failed_password_sign_ins": self.failures,
            "failed_per_minute": self.failures_per_minute,
            "unknown_usernames": self.unknown_usernames,
            "refusals": dict(self.refusals),
            "top_addresses": [a.__dict__ for a in self.top_addresses],
            "targeted_accounts": [
                {**a.__dict__, "first_at": a.first_at.isoformat()} for a in self.targeted_accounts
            ],
        }


def _password_failures(since: datetime, until: datetime) -> ColumnElement[bool]:
    # tag + created_at + outcome: the partial index of failures (ix_audit_events_failures)
    return and_(
        AuditEvent.tag == str(Event.PASSWORD_FAILURE),
        AuditEvent.outcome == "failure",
        AuditEvent.created_at >= since,
        AuditEvent.created_at < until,
    )


def attack_report(
    db: Session, *, now: datetime, window: timedelta = WINDOW, top: int = TOP
) -> AttackReport:
    """The figures of the last ``window`` up to ``now``."""
    since = now - window
    failed = _password_failures(since, now)
    failures, unknown = db.execute(
        select(func.count(), func.count().filter(AuditEvent.user_id.is_(None))).where(failed)
    ).one()
    refusals = db.execute(
        select(AuditEvent.reason, func.count())
        .where(
            AuditEvent.tag == str(Event.THROTTLED),
            AuditEvent.outcome == "failure",
            AuditEvent.created_at >= since,
            AuditEvent.created_at < now,
        )
        .group_by(AuditEvent.reason)
        .order_by(func.count().desc(), AuditEvent.reason)
    ).all()
    n = func.count().label("n")
    addresses = db.execute(
        select(AuditEvent.address, n, func.count(distinct(AuditEvent.user_id)))
        .where(failed, AuditEvent.address.is_not(None))
        .group_by(AuditEvent.address)
        .order_by(n.desc(), AuditEvent.address)
        .limit(top)
    ).all()
    accounts = db.execute(
        select(
            User.username,
            n,
            func.count(distinct(AuditEvent.address)),
            func.min(AuditEvent.created_at),
        )
        .join(User, User.id == AuditEvent.user_id)
        .where(failed)
        .group_by(User.username)
        .order_by(n.desc(), User.username)
        .limit(top)
    ).all()
    return AttackReport(
        since=since,
        until=now,
        failures=int(failures),
        unknown_usernames=int(unknown),
        refusals=tuple((reason or "unknown", int(count)) for reason, count in refusals),
        top_addresses=tuple(AddressFigures(str(a), int(c), int(u)) for a, c, u in addresses),
        targeted_accounts=tuple(
            AccountFigures(name, int(c), int(a), first) for name, c, a, first in accounts
        ),
    )


@dataclass(frozen=True)
class TargetedNotice:
    """What the account page tells its owner: never the addresses."""

    wrong_passwords: int
    addresses: int
    since: datetime


def targeted_notice(
    db: Session,
    user_id: int,
    *,
    now: datetime,
    window: timedelta = NOTICE_WINDOW,
    threshold: int = NOTICE_FROM,
) -> TargetedNotice | None:
    """Wrong passwords given for this account over ``window``, when at least ``threshold``."""
    wrong, addresses, first = db.execute(
        select(
            func.count(), func.count(distinct(AuditEvent.address)), func.min(AuditEvent.created_at)
        ).where(
            AuditEvent.user_id == user_id,
            AuditEvent.tag == str(Event.PASSWORD_FAILURE),
            AuditEvent.reason == "wrong_password",
            AuditEvent.created_at >= now - window,
            AuditEvent.created_at < now,
        )
    ).one()
    if int(wrong) < threshold or first is None:
        return None
    return TargetedNotice(int(wrong), int(addresses), first)

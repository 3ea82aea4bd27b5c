"""The admin dashboard's numbers, each counted by the database (never a loop over rows).

- the credential mix per day: today's live counts by strength, walked back through the
  window's additions and removals (so only the window's rows are read, not history);
- sign-ins per method per day, counted as index ranges of ``(tag, created_at)``, and
  failures by reason from a partial index of failures;
- the migration funnel (users by strongest credential) and who each policy affects, from one
  pass over live credentials grouped by user.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, literal_column, select, values
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.sqltypes import NullType

from app.models import AuditEvent, Credential, Strength, StrengthFlag, User, UserStatus
from app.models.base import UTCDateTime
from app.services.audit import Event
from app.services.reports import (
    FLAG,
    flag_union,
    known_roles,
    live,
    strength_of_flags,
)

SIGN_IN_SUCCESS = {
    e.value.split(":")[1]: e.value
    for e in Event
    if e.value.startswith("auth:") and e.value.endswith(":success")
}
SIGN_IN_FAILURE = tuple(
    e.value
    for e in Event
    if e.value.startswith("auth:") and not e.value.endswith(":success") and e is not Event.LOGOUT
)
MAX_DAYS = 366
_DAY = timedelta(days=1)


class day_of(FunctionElement[Any]):
    """The UTC calendar day of a timestamp; ``str()`` of the value is ``YYYY-MM-DD``."""

    type = NullType()
    name = "day_of"
    inherit_cache = True


@compiles(day_of)
def _day_of_sqlite(element: day_of, compiler: Any, **kw: Any) -> str:
    # SQLite keeps datetimes as ISO text (``YYYY-MM-DD HH:MM:SS.ffffff``): the day is a prefix.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(day_of, "postgresql")
def _day_of_postgresql(element: day_of, compiler: Any, **kw: Any) -> str:
    # A date groups cheaper than text (a hash aggregate, no sort spilling to disk).
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@dataclass(frozen=True)
class Window:
    """Whole UTC days ending with today."""

    days: list[date]

    @classmethod
    def ending(cls, now: datetime, days: int) -> Window:
        days = max(1, min(days, MAX_DAYS))
        today = now.astimezone(UTC).date()
        return cls([today - timedelta(days=n) for n in range(days - 1, -1, -1)])

    @property
    def start(self) -> datetime:
        return datetime.combine(self.days[0], time(), UTC)


@dataclass(frozen=True)
class DailySeries:
    """Named series of daily values over a window (a line chart and its table)."""

    days: list[date]
    series: dict[str, list[int]]


def _grouped_by_day(
    db: Session, stamp: Any, key: Any, window: Window
) -> dict[tuple[date, Any], int]:
    """How many rows fall on each day of ``window`` for each value of ``key``: GROUP BY the
    day, for sparse rows (credentials added or removed: hundreds a day)."""
    day = day_of(stamp)
    rows = db.execute(
        select(day, key, func.count()).where(stamp >= window.start).group_by(day, key)
    )
    return {(date.fromisoformat(str(d)), k): int(n) for d, k, n in rows}


def _range_counts(
    db: Session, stamp: Any, key: Any, keys: Sequence[Any], window: Window
) -> dict[tuple[date, Any], int]:
    """The same for dense rows (sign-ins: thousands a day): one statement with a VALUES list
    of (day start, day end, key) and a correlated count for each, which an index on
    ``(key, stamp)`` answers as range counts. A GROUP BY would sort every row of the window
    (slower on SQLite and on PostgreSQL: bench/admin_scale.py)."""
    rows = [
        (datetime.combine(d, time(), UTC), datetime.combine(d + _DAY, time(), UTC), k)
        for d in window.days
        for k in keys
    ]
    bounds = (
        values(
            column("lo", UTCDateTime()),
            column("hi", UTCDateTime()),
            column("k", key.type),
            name="bounds",
        )
        .data(rows)
        .cte("bounds")
    )
    n = (
        select(func.count())
        .select_from(key.class_)
        .where(key == bounds.c.k, stamp >= bounds.c.lo, stamp < bounds.c.hi)
        .scalar_subquery()
    )
    return {
        (lo.date(), k): int(c) for lo, k, c in db.execute(select(bounds.c.lo, bounds.c.k, n)) if c
    }


def credential_mix(
    db: Session, *, now: datetime, days: int = 30, current: dict[Strength, int]
) -> DailySeries:
    """Live credentials by strength at the end of each day of the window, walked back from
    ``current`` (today's counts, ``Population.live_credentials``)."""
    window = Window.ending(now, days)
    added = _by_strength(_grouped_by_day(db, Credential.created_at, FLAG, window))
    removed = _by_strength(_grouped_by_day(db, Credential.revoked_at, FLAG, window))
    series: dict[str, list[int]] = {}
    for s in Strength:
        level, points = current.get(s, 0), []
        for day in reversed(window.days):
            points.append(level)
            level += removed.get((day, s), 0) - added.get((day, s), 0)
        series[s.label] = points[::-1]
    return DailySeries(window.days, series)


def _by_strength(counts: dict[tuple[date, Any], int]) -> dict[tuple[date, Strength], int]:
    merged: dict[tuple[date, Strength], int] = defaultdict(int)
    for (day, flag), n in counts.items():
        merged[(day, StrengthFlag(flag).strength)] += n
    return merged


def sign_ins_per_method(db: Session, *, now: datetime, days: int = 30) -> DailySeries:
    """Successful sign-ins per method per day."""
    window = Window.ending(now, days)
    counts = _range_counts(
        db, AuditEvent.created_at, AuditEvent.tag, list(SIGN_IN_SUCCESS.values()), window
    )
    return DailySeries(
        window.days,
        {
            method: [counts.get((d, tag), 0) for d in window.days]
            for method, tag in SIGN_IN_SUCCESS.items()
        },
    )


@dataclass(frozen=True)
class FailureCount:
    method: str
    reason: str
    count: int

    @property
    def label(self) -> str:
        return f"{self.method}: {self.reason}"


def failures_by_reason(
    db: Session, *, now: datetime, days: int = 30, limit: int = 12
) -> list[FailureCount]:
    """Failed sign-in attempts in the window by method and reason, most frequent first."""
    since = Window.ending(now, days).start
    method = func.coalesce(AuditEvent.method, "")
    reason = func.coalesce(AuditEvent.reason, "")
    n = func.count().label("n")
    # The literal (not a bound parameter) lets SQLite use the partial index of failures.
    rows = db.execute(
        select(method, reason, n)
        .where(
            AuditEvent.outcome == literal_column("'failure'"),
            AuditEvent.tag.in_(SIGN_IN_FAILURE),
            AuditEvent.created_at >= since,
        )
        .group_by(method, reason)
        .order_by(n.desc(), method, reason)
        .limit(limit)
    )
    return [FailureCount(m or "unknown", r or "unspecified", int(c)) for m, r, c in rows]


@dataclass
class RolePolicy:
    """Users of one role under ``KEYSTILE_REQUIRE_HARDWARE_KEY_FOR``."""

    role: str
    users: int = 0
    missing: int = 0  #: without an attested hardware key: refused once the rule bites


@dataclass
class Population:
    """Active users by strongest credential, and who each policy affects."""

    active_users: int = 0
    #: users by strongest live credential; None = no credential at all
    funnel: dict[Strength | None, int] = field(default_factory=dict)
    certificate_holders: int = 0  #: anyone with a live certificate
    certificate_dependent: int = 0  #: a certificate and no passkey: must move at the sunset
    certificate_only: int = 0  #: certificates only: locked out when refusal starts
    hardware_roles: list[RolePolicy] = field(default_factory=list)
    #: live credentials (of every user) by strength: today's point of the credential mix
    live_credentials: dict[Strength, int] = field(default_factory=dict)


def _users_by_flags(db: Session, among: Select[Any] | None = None) -> dict[int, int]:
    """How many users have each union of live strength flags (users without any live
    credential are absent); ``among`` limits it to a set of user ids."""
    per_user = select(flag_union(FLAG).label("mask")).where(live())
    if among is not None:
        per_user = per_user.where(Credential.user_id.in_(among))
    sub = per_user.group_by(Credential.user_id).subquery()
    return {
        int(m): int(n) for m, n in db.execute(select(sub.c.mask, func.count()).group_by(sub.c.mask))
    }


def _count(db: Session, *where: ColumnElement[bool]) -> int:
    return int(db.scalar(select(func.count()).select_from(User).where(*where)) or 0)


def population(db: Session, *, hardware_roles: Sequence[str] = ()) -> Population:
    """The funnel and the policies from one pass over the live-credential index.

    Every user's flags are combined in SQL; inactive users (a few) are then subtracted
    rather than joined, which would cost a lookup per credential.
    """
    active = User.status == UserStatus.ACTIVE
    inactive = User.status.in_([s for s in UserStatus if s is not UserStatus.ACTIVE])
    masks = _users_by_flags(db)
    for mask, n in _users_by_flags(db, select(User.id).where(inactive)).items():
        masks[mask] -= n
    result = Population(
        active_users=_count(db, active), funnel={None: 0, **{s: 0 for s in Strength}}
    )
    for mask, n in masks.items():
        strongest = strength_of_flags(mask)
        result.funnel[strongest] += n
        if mask & StrengthFlag.CERTIFICATE:
            result.certificate_holders += n
            if strongest is Strength.CERTIFICATE:
                result.certificate_dependent += n
                result.certificate_only += n if mask == StrengthFlag.CERTIFICATE else 0
    result.funnel[None] = result.active_users - sum(masks.values())
    for role in known_roles(hardware_roles):
        in_role = (active, User.role == role)
        attested = sum(
            n
            for mask, n in _users_by_flags(db, select(User.id).where(*in_role)).items()
            if mask & StrengthFlag.ATTESTED_DEVICE_KEY
        )
        users = _count(db, *in_role)
        result.hardware_roles.append(RolePolicy(role.value, users, users - attested))
    by_flag = db.execute(select(FLAG, func.count()).where(live()).group_by(FLAG))
    result.live_credentials = {s: 0 for s in Strength}
    for flag, n in by_flag:
        result.live_credentials[StrengthFlag(flag).strength] += int(n)
    return result

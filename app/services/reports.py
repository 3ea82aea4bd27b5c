"""Who signs in how: the users table with its filters, and per-user credential summaries.

Plain Python over SQL. Lists are keyset pages in an indexed order (the unique
``username_normalized``), so page 2,000 costs what page 1 costs; counts are GROUP BYs in the
database, never Python loops over all rows. Strength questions use the database-computed
``credentials.strength_flag`` (one bit per strength class) and its partial indexes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, exists, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.functions import FunctionElement

from app.models import (
    AuthSession,
    Credential,
    CredentialKind,
    Role,
    Strength,
    StrengthFlag,
    User,
    UserStatus,
    normalize_username,
)
from app.services import audit_queries
from app.services.audit_queries import AuditFilter, AuditRow

EXPIRY_WINDOW = timedelta(days=30)
DORMANT_AFTER = timedelta(days=90)
PAGE_SIZE = 50
MAX_SEARCH = 100
FLAG = Credential.strength_flag


class flag_union(FunctionElement[int]):
    """The bitwise OR of a group's strength flags: ``bit_or`` on PostgreSQL; elsewhere the
    sum of the distinct values, which is the same for powers of two."""

    type = Integer()
    name = "flag_union"
    inherit_cache = True


@compiles(flag_union)
def _flag_union_default(element: flag_union, compiler: Any, **kw: Any) -> str:
    return f"sum(DISTINCT {compiler.process(element.clauses, **kw)})"


@compiles(flag_union, "postgresql")
def _flag_union_postgresql(element: flag_union, compiler: Any, **kw: Any) -> str:
    return f"bit_or({compiler.process(element.clauses, **kw)})"


def strength_of_flags(mask: int) -> Strength | None:
    """The strongest class in a union of flags (None for no credential)."""
    if not mask:
        return None
    return StrengthFlag(1 << (int(mask).bit_length() - 1)).strength


def live() -> ColumnElement[bool]:
    return Credential.revoked_at.is_(None)


def _has(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """The user of the outer query has a live credential matching ``conditions``."""
    return exists().where(Credential.user_id == User.id, live(), *conditions)


class UserFilter(enum.StrEnum):
    """The users page's filters; the value is the ``filter`` query parameter."""

    ALL = ""
    PASSWORD_ONLY = "password-only"
    CERTIFICATE_NO_HARDWARE_KEY = "certificate-no-hardware-key"
    DEPENDS_ON_CERTIFICATE = "depends-on-certificate"
    CERTIFICATE_EXPIRING = "certificate-expiring"
    CLONE_FLAGGED = "clone-flagged"
    DORMANT = "no-sign-in-90-days"
    HARDWARE_KEY_POLICY = "hardware-key-policy"
    DISABLED = "disabled"

    @property
    def label(self) -> str:
        return _FILTER_LABELS[self]


_FILTER_LABELS = {
    UserFilter.ALL: "Everyone",
    UserFilter.PASSWORD_ONLY: "Password only",
    UserFilter.CERTIFICATE_NO_HARDWARE_KEY: "Certificate but no device-bound key",
    UserFilter.DEPENDS_ON_CERTIFICATE: "Certificate and no passkey (certificate sunset)",
    UserFilter.CERTIFICATE_EXPIRING: "Certificate expiring within 30 days",
    UserFilter.CLONE_FLAGGED: "Possible clone flagged",
    UserFilter.DORMANT: "No sign-in for 90 days",
    UserFilter.HARDWARE_KEY_POLICY: "Missing the hardware key their role requires",
    UserFilter.DISABLED: "Disabled",
}


def known_roles(roles: Sequence[str]) -> list[Role]:
    return [Role(r) for r in roles if r in {x.value for x in Role}]


def filter_condition(
    which: UserFilter, *, now: datetime, hardware_roles: Sequence[str] = ()
) -> ColumnElement[bool] | None:
    """The WHERE condition on ``users`` for one filter (None: everyone)."""
    if which is UserFilter.PASSWORD_ONLY:
        return and_(_has(FLAG == StrengthFlag.PASSWORD), ~_has(FLAG != StrengthFlag.PASSWORD))
    if which is UserFilter.CERTIFICATE_NO_HARDWARE_KEY:
        return and_(_has(FLAG == StrengthFlag.CERTIFICATE), ~_has(FLAG >= StrengthFlag.DEVICE_KEY))
    if which is UserFilter.DEPENDS_ON_CERTIFICATE:
        return and_(
            _has(FLAG == StrengthFlag.CERTIFICATE), ~_has(FLAG >= StrengthFlag.SYNCED_PASSKEY)
        )
    if which is UserFilter.CERTIFICATE_EXPIRING:
        # Few users match: collect them from the (kind, not_after) index, once.
        return User.id.in_(
            select(Credential.user_id).where(
                live(),
                Credential.kind == CredentialKind.CERTIFICATE,
                Credential.not_after >= now,
                Credential.not_after < now + EXPIRY_WINDOW,
            )
        )
    if which is UserFilter.CLONE_FLAGGED:
        return User.id.in_(
            select(Credential.user_id).where(live(), Credential.clone_flagged_at.is_not(None))
        )
    if which is UserFilter.DORMANT:
        return func.coalesce(User.last_sign_in_at, User.created_at) < now - DORMANT_AFTER
    if which is UserFilter.HARDWARE_KEY_POLICY:
        roles = known_roles(hardware_roles)
        if not roles:
            return User.id.is_(None)  # no rule configured: nobody is affected
        return and_(
            User.role.in_(roles),
            User.status == UserStatus.ACTIVE,
            ~_has(FLAG == StrengthFlag.ATTESTED_DEVICE_KEY),
        )
    if which is UserFilter.DISABLED:
        return User.status == UserStatus.DISABLED
    return None


def search_condition(text: str) -> ColumnElement[bool] | None:
    """Substring match on username, display name or e-mail, case-insensitively."""
    text = " ".join(text.split())[:MAX_SEARCH]
    if not text:
        return None
    return or_(
        User.username_normalized.contains(normalize_username(text), autoescape=True),
        User.display_name.icontains(text, autoescape=True),
        User.email.icontains(text, autoescape=True),
    )


@dataclass(frozen=True)
class UserQuery:
    search: str = ""
    filter: UserFilter = UserFilter.ALL
    #: keyset cursors: the ``username_normalized`` to continue after / before
    after: str | None = None
    before: str | None = None
    limit: int = PAGE_SIZE


@dataclass(frozen=True)
class Badge:
    """One badge on the users table: how many live credentials of one strength."""

    strength: Strength
    count: int

    @property
    def label(self) -> str:
        return self.strength.label


@dataclass
class UserSummary:
    """A user with what their live credentials add up to."""

    user: User
    badges: list[Badge] = field(default_factory=list)
    clone_flagged: bool = False
    earliest_certificate_expiry: datetime | None = None

    @property
    def strongest(self) -> Strength | None:
        return max((b.strength for b in self.badges), default=None)


@dataclass(frozen=True)
class UserPage:
    rows: list[UserSummary]
    next_after: str | None
    prev_before: str | None


def users_page(
    db: Session, query: UserQuery, *, now: datetime, hardware_roles: Sequence[str] = ()
) -> UserPage:
    """One page of users in username order, with their credential badges."""
    stmt = select(User)
    for cond in (
        search_condition(query.search),
        filter_condition(query.filter, now=now, hardware_roles=hardware_roles),
    ):
        if cond is not None:
            stmt = stmt.where(cond)
    key = User.username_normalized
    backwards = query.before is not None and query.after is None
    if backwards:
        stmt = stmt.where(key < query.before).order_by(key.desc())
    else:
        if query.after is not None:
            stmt = stmt.where(key > query.after)
        stmt = stmt.order_by(key)
    users = list(db.scalars(stmt.limit(query.limit + 1)))
    more = len(users) > query.limit
    users = users[: query.limit]
    if backwards:
        users.reverse()
    first = users[0].username_normalized if users else None
    last = users[-1].username_normalized if users else None
    has_prev = query.after is not None or (backwards and more)
    has_next = (not backwards and more) or backwards
    return UserPage(
        rows=summarize(db, users),
        next_after=last if has_next else None,
        prev_before=first if has_prev else None,
    )


def summarize(db: Session, users: Sequence[User]) -> list[UserSummary]:
    """Badges for a page of users: one grouped query, whatever the page size."""
    by_id = {u.id: UserSummary(u) for u in users}
    if not by_id:
        return []
    rows = db.execute(
        select(
            Credential.user_id,
            FLAG,
            func.count(),
            func.min(Credential.not_after),
            func.count(Credential.clone_flagged_at),
        )
        .where(Credential.user_id.in_(list(by_id)), live())
        .group_by(Credential.user_id, FLAG)
    )
    for user_id, flag, n, expiry, flagged in rows:
        summary = by_id[user_id]
        bit = StrengthFlag(flag)
        summary.badges.append(Badge(bit.strength, int(n)))
        summary.clone_flagged |= bool(flagged)
        if bit is StrengthFlag.CERTIFICATE and expiry is not None:
            summary.earliest_certificate_expiry = expiry
    for summary in by_id.values():
        summary.badges.sort(key=lambda b: b.strength)
    return [by_id[u.id] for u in users]


# -- the credentials report (CLI) ---------------------------------------------------------


def credentials_report(db: Session, *, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """One object per user, in username order, streamed: counts by kind and strength,
    the strongest credential and the earliest certificate expiry."""
    agg = (
        select(
            Credential.user_id.label("user_id"),
            FLAG.label("flag"),
            func.count().label("n"),
            func.min(Credential.not_after).label("expiry"),
        )
        .where(live())
        .group_by(Credential.user_id, FLAG)
        .subquery()
    )
    stmt = (
        select(User.id, User.username, User.role, User.status, agg.c.flag, agg.c.n, agg.c.expiry)
        .outerjoin(agg, agg.c.user_id == User.id)
        .order_by(User.username_normalized, agg.c.flag)
        .execution_options(yield_per=batch)
    )
    for _user_id, group in groupby(db.execute(stmt), key=lambda r: r.id):
        rows = list(group)
        by_strength = {s.name.lower(): 0 for s in Strength}
        mask, expiry = 0, None
        for r in rows:
            if r.flag is None:
                continue
            bit = StrengthFlag(r.flag)
            mask |= bit
            by_strength[bit.strength.name.lower()] += int(r.n)
            if bit is StrengthFlag.CERTIFICATE:
                expiry = r.expiry
        strongest = strength_of_flags(mask)
        yield {
            "username": rows[0].username,
            "role": str(rows[0].role),
            "status": str(rows[0].status),
            "by_kind": {
                "password": by_strength["password"],
                "certificate": by_strength["certificate"],
                "passkey": (
                    by_strength["synced_passkey"]
                    + by_strength["device_key"]
                    + by_strength["hardware_key"]
                ),
            },
            "by_strength": by_strength,
            "strongest": strongest.name.lower() if strongest else None,
            "earliest_certificate_expiry": expiry.isoformat() if expiry else None,
        }


# -- one user ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserDetail:
    """Everything the admin's page about one user shows."""

    summary: UserSummary
    credentials: list[Credential]  #: live first, then revoked; newest first
    sessions: list[AuthSession]  #: live sessions, each with the credential that opened it
    events: list[AuditRow]  #: the newest events about or by the user

    @property
    def user(self) -> User:
        return self.summary.user


def user_detail(
    db: Session, user_id: int, *, now: datetime, recent_events: int = 25
) -> UserDetail | None:
    user = db.get(User, user_id)
    if user is None:
        return None
    creds = list(
        db.scalars(
            select(Credential)
            .where(Credential.user_id == user.id)
            .order_by(
                Credential.revoked_at.is_not(None),
                Credential.created_at.desc(),
                Credential.id.desc(),
            )
        )
    )
    live_sessions = list(
        db.scalars(
            select(AuthSession)
            .options(selectinload(AuthSession.credential))
            .where(
                AuthSession.user_id == user.id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.last_seen_at.desc())
        )
    )
    events = audit_queries.page(db, AuditFilter(username=user.username), limit=recent_events).rows
    return UserDetail(summarize(db, [user])[0], creds, live_sessions, events)

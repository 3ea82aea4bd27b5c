"""Reading the audit trail: filters, keyset pages, and streamed CSV / JSON Lines exports.

Exports run through one server-side cursor (``yield_per``: psycopg's named cursor on
PostgreSQL, SQLite's own stepping cursor) and write a chunk at a time, so memory stays flat
however many rows match. CSV cells that a spreadsheet would run as a formula are defused
(OWASP "CSV injection"): values starting with ``= + - @``, tab or carriage return, their
full-width forms, or any of these after leading whitespace, get a leading apostrophe.
Control characters are neutralised in both formats (``app.services.text``).
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session, aliased

from app.models import AuditEvent, User
from app.models.base import MAX_AUDIT_ID
from app.services import accounts
from app.services.text import csv_text, json_text

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: a spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV Injection");
#: the full-width look-alikes U+FF1D U+FF0B U+FF0D U+FF20 too, in case one folds them to ASCII
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: export columns, in order
COLUMNS = (
    "id",
    "created_at",
    "tag",
    "outcome",
    "method",
    "reason",
    "username",
    "user_id",
    "credential_id",
    "actor",
    "actor_id",
    "address",
    "user_agent",
    "request_id",
    "details",
)


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSONL = "jsonl"

    @property
    def mimetype(self) -> str:
        return "text/csv" if self is ExportFormat.CSV else "application/x-ndjson"


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page and ``keystile audit export`` narrow the trail to."""

    username: str = ""  #: events about this user or done by them (as an admin)
    method: str = ""
    tag: str = ""
    outcome: str = ""
    since: datetime | None = None  #: inclusive
    until: datetime | None = None  #: exclusive

    def as_query(self) -> dict[str, str]:
        """The filter as query-string values (for links such as the export)."""
        values = {
            "user": self.username,
            "method": self.method,
            "event": self.tag,
            "outcome": self.outcome,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def parse_bound(raw: str, *, end: bool = False) -> datetime | None:
    """A date (``2026-01-31``) or ISO datetime as an aware UTC datetime.

    A bare date as an end bound means the end of that day (the next midnight, exclusive).

    Raises:
        ValueError: not a date or datetime.
    """
    raw = raw.strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), UTC)
        value = datetime.fromisoformat(raw)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        # 9999-12-31 as an end bound, or an offset that moves a date past year 1 or 9999
        raise ValueError(f"date out of range: {raw!r}") from None


def conditions(db: Session, f: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.username:
        user = accounts.find_user(db, f.username)
        if user is None:
            return [false()]
        where.append(or_(AuditEvent.user_id == user.id, AuditEvent.actor_id == user.id))
    if f.method:
        where.append(AuditEvent.method == f.method)
    if f.tag:
        where.append(AuditEvent.tag == f.tag)
    if f.outcome:
        where.append(AuditEvent.outcome == f.outcome)
    if f.since is not None:
        where.append(AuditEvent.created_at >= f.since)
    if f.until is not None:
        where.append(AuditEvent.created_at < f.until)
    return where


def _rows(db: Session, f: AuditFilter) -> Select[AuditEvent, str, str]:
    subject, actor = aliased(User), aliased(User)
    return (
        select(AuditEvent, subject.username.label("username"), actor.username.label("actor"))
        .outerjoin(subject, subject.id == AuditEvent.user_id)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .where(*conditions(db, f))
    )


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    username: str | None
    actor: str | None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: newest first, by ``(created_at, id)``."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.created_at.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, raw: str) -> Cursor | None:
        stamp, _, ident = raw.partition("~")
        try:
            when = parse_bound(stamp)
            ident_value = int(ident)
        except ValueError:
            return None
        if when is None or len(stamp) <= 10 or not 0 <= ident_value <= MAX_AUDIT_ID:
            return None  # no id is negative or beyond the column's range
        return cls(when, ident_value)


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    next_cursor: Cursor | None


def page(
    db: Session, f: AuditFilter, *, after: Cursor | None = None, limit: int = PAGE_SIZE
) -> AuditPage:
    """Newest first; ``after`` continues where the previous page ended (keyset)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    stmt = _rows(db, f)
    if after is not None:
        # The first conjunct alone is indexable; the second breaks ties on the same instant.
        stmt = stmt.where(
            AuditEvent.created_at <= after.created_at,
            or_(
                AuditEvent.created_at < after.created_at,
                and_(AuditEvent.created_at == after.created_at, AuditEvent.id < after.id),
            ),
        )
    stmt = stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit + 1)
    rows = [AuditRow(r[0], r.username, r.actor) for r in db.execute(stmt)]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].event if rows and more else None
    return AuditPage(rows, Cursor(last.created_at, last.id) if last else None)


# -- export ---------------------------------------------------------------------------------


def stream(db: Session, f: AuditFilter, *, batch: int = 200) -> Iterator[dict[str, Any]]:
    """Every matching event, oldest first, as plain dicts; one server-side cursor."""
    subject, actor = aliased(User), aliased(User)
    e = AuditEvent
    stmt = (
        select(
            e.id,
            e.created_at,
            e.tag,
            e.outcome,
            e.method,
            e.reason,
            subject.username,
            e.user_id,
            e.credential_id,
            actor.username,
            e.actor_id,
            e.address,
            e.user_agent,
            e.request_id,
            e.details,
        )
        .outerjoin(subject, subject.id == e.user_id)
        .outerjoin(actor, actor.id == e.actor_id)
        .where(*conditions(db, f))
        .order_by(e.created_at, e.id)
        .execution_options(yield_per=batch)
    )
    for row in db.execute(stmt):
        item = dict(zip(COLUMNS, row, strict=True))
        item["created_at"] = row[1].isoformat()
        yield item


def defuse(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (``=cmd|' /C calc'!A0``)."""
    # A spreadsheet that trims cells on import (LibreOffice's "Trim spaces") finds a formula
    # behind leading blanks or line breaks (" =1+1", "\n@SUM(A1)"), so look past them;
    # str.lstrip() drops Unicode spaces too (U+00A0, U+3000). The first test keeps a lone
    # leading tab or CR, which lstrip() would remove, a trigger of its own.
    if value.startswith(FORMULA_START) or value.lstrip().startswith(FORMULA_START):
        return "'" + value
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = json_text(value, sort_keys=True, separators=(",", ":"))
    return defuse(csv_text(value)) if isinstance(value, str) else value


def to_csv(items: Iterable[dict[str, Any]], *, chunk_rows: int = 500) -> Iterator[str]:
    """CSV text (RFC 4180 quoting, a header line first), yielded in chunks."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    pending = 0
    for item in items:
        writer.writerow([_csv_cell(item[c]) for c in COLUMNS])
        pending += 1
        if pending >= chunk_rows:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            pending = 0
    yield buf.getvalue()


def to_jsonl(items: Iterable[dict[str, Any]], *, chunk_rows: int = 500) -> Iterator[str]:
    """One JSON object a line, yielded in chunks."""
    lines: list[str] = []
    for item in items:
        lines.append(json_text(item, separators=(",", ":")))
        if len(lines) >= chunk_rows:
            yield "\n".join(lines) + "\n"
            lines.clear()
    if lines:
        yield "\n".join(lines) + "\n"


def export(db: Session, f: AuditFilter, fmt: ExportFormat) -> Iterator[str]:
    rows = stream(db, f)
    return to_csv(rows) if fmt is ExportFormat.CSV else to_jsonl(rows)


def known_tags() -> list[str]:
    from app.services.audit import Event

    return sorted(e.value for e in Event)

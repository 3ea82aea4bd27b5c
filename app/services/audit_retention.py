"""Audit retention: ``keystile audit prune --before DATE [--export FILE]``.

The events before a date are first written out in the export format (``keystile audit
export``), then deleted, in batches so that a large trail never holds one long transaction;
only events that were exported are deleted (an event written meanwhile is kept for the next
run). The prune is itself audited, with the bound and the count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import AuditEvent
from app.services import audit_queries
from app.services.audit import SYSTEM, Event, record
from app.services.audit_queries import AuditFilter, ExportFormat

#: rows deleted per transaction
BATCH = 5000


class RetentionError(ValueError):
    """The bound is not one to prune at (in the future)."""


@dataclass(frozen=True)
class Pruned:
    before: datetime
    deleted: int
    exported: int | None  #: rows written out, or None without an export


def prune(
    db: Session,
    *,
    before: datetime,
    now: datetime,
    export: tuple[Callable[[str], Any], ExportFormat] | None = None,
    export_name: str = "",
    flush: Callable[[], None] | None = None,
) -> Pruned:
    """Export (when asked) then delete the events created before ``before``; audited.

    Args:
        export: a writer for the exported text and its format.
        export_name: where the export went, for the audit row.
        flush: called once the export is written and before anything is deleted, to put it
            on stable storage (the rows are gone afterwards).

    Raises:
        RetentionError: ``before`` is later than ``now``.
    """
    if before > now:
        raise RetentionError("The date is in the future: only past events can be pruned.")
    last_id: int | None = None
    exported: int | None = None
    if export is not None:
        write, fmt = export
        seen = _Seen(audit_queries.stream(db, AuditFilter(until=before)))
        for chunk in (
            audit_queries.to_csv(seen) if fmt is ExportFormat.CSV else audit_queries.to_jsonl(seen)
        ):
            write(chunk)
        exported, last_id = seen.count, seen.last_id
        db.commit()  # ends the export's read before the deletes
        if flush is not None:
            flush()
    deleted = 0
    while exported != 0:
        batch = select(AuditEvent.id).where(AuditEvent.created_at < before)
        if last_id is not None:
            batch = batch.where(AuditEvent.id <= last_id)
        result = db.execute(
            delete(AuditEvent)
            .where(AuditEvent.id.in_(batch.order_by(AuditEvent.id).limit(BATCH)))
            .execution_options(synchronize_session=False)
        )
        db.commit()
        count = int(getattr(result, "rowcount", 0))
        deleted += count
        if count == 0:
            break
    record(
        db,
        Event.AUDIT_PRUNED,
        client=SYSTEM,
        success=True,
        details={
            "before": before.isoformat(),
            "deleted": deleted,
            "exported": exported,
            "export": export_name or None,
        },
    )
    db.commit()
    return Pruned(before=before, deleted=deleted, exported=exported)


class _Seen:
    """The export's rows, passed through while counting them and keeping the largest id."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self.rows, self.count, self.last_id = rows, 0, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            self.last_id = max(self.last_id, int(row["id"]))
            yield row

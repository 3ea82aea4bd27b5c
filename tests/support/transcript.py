"""What the "both paths agree" tests compare: the audit rows a script of requests wrote."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEvent


def last_audit_id(db: Session) -> int:
    """The newest audit row's id (0: none yet); :func:`audit_since` reads the rows after it."""
    return int(db.scalar(select(func.max(AuditEvent.id))) or 0)


def audit_since(db: Session, after: int) -> list[tuple[Any, ...]]:
    """The audit rows written after row ``after``, in order, without their random values."""
    db.expire_all()
    return [
        tuple(row)
        for row in db.execute(
            select(
                AuditEvent.tag,
                AuditEvent.outcome,
                AuditEvent.method,
                AuditEvent.reason,
                AuditEvent.user_id,
                AuditEvent.credential_id,
                AuditEvent.address,
                AuditEvent.details,
            )
            .where(AuditEvent.id > after)
            .order_by(AuditEvent.id)
        )
    ]

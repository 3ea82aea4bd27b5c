"""The audit trail: one row per sign-in attempt and per credential or account change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_user_created", "user_id", "created_at"),
        Index("ix_audit_events_method_created", "method", "created_at"),
        Index("ix_audit_events_tag_created", "tag", "created_at"),
        #: the admin audit log's "user" filter matches events an admin did, too
        Index("ix_audit_events_actor_created", "actor_id", "created_at"),
        #: the dashboard's failures by reason, read from this small index alone
        Index(
            "ix_audit_events_failures",
            "tag",
            "created_at",
            "method",
            "reason",
            sqlite_where=text("outcome = 'failure'"),
            postgresql_where=text("outcome = 'failure'"),
        ),
    )

    #: BIGINT on PostgreSQL: the one table that grows without bound would run out of 32-bit
    #: ids; SQLite keeps INTEGER, as only ``INTEGER PRIMARY KEY`` is the 64-bit rowid
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: a named event, e.g. ``auth:password:failure`` (see app.services.audit.Event)
    tag: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL")
    )
    #: who acted, when not the user themself (an admin)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    method: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(8))  #: success | failure
    reason: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

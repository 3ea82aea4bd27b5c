"""Sessions on protected hosts, each opened from a Keystile session by a hand-off.

Keystile's own cookie is host-only (``__Host-``), so a protected site on another host gets
a cookie of its own (``__Host-keystile-gate``), set on that host by the single sign-on
hand-off (:mod:`app.services.handoff`). Its row points at the Keystile session that made
it: that session's sign-out, revocation or expiry ends it at the next request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow
from app.models.session import AuthSession


class GateSession(Base):
    __tablename__ = "gate_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 (hex) of the cookie's random id; the id itself is never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the Keystile session this one was handed off from
    parent_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    #: the protected host whose cookie this is (lower case, no port)
    host: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    parent: Mapped[AuthSession] = relationship(lazy="joined")

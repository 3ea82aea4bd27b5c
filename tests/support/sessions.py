"""Moving stored sessions through time, for tests of timeouts and recent sign-in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuthSession


def age_sessions(db: Session, column: str, by: timedelta) -> None:
    """Move a timestamp of every live session into the past."""
    for row in db.scalars(select(AuthSession).where(AuthSession.revoked_at.is_(None))):
        setattr(row, column, getattr(row, column) - by)
    db.commit()

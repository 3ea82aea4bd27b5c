"""Group memberships: the names access rules admit (``groups = ["ops"]``).

A group exists while someone is in it; a membership is a row. Names are lower-case ASCII
(:data:`GROUP_NAME`), so a rule and a membership compare as plain strings and the
``Remote-Groups`` header (comma-separated) can never carry a comma or a space.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow

#: a group's name: lower-case letters, digits, ``.``, ``_`` and ``-``; at most 63 characters
GROUP_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


class GroupMembership(Base):
    __tablename__ = "user_groups"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    #: the group's name (:data:`GROUP_NAME`); indexed for ``keystile group list``
    name: Mapped[str] = mapped_column(String(63), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

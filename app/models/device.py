"""Device tokens: a browser that signed in to an account before (issue #17).

OWASP's device-cookie pattern: a browser that has signed in to an account holds a token for
it, and the per-account limit on wrong passwords applies only to clients without one, so
that others' guesses cannot lock the owner out. The cookie carries a random secret; the row
stores its hash, when it was made and last used, and the browser it was made for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class DeviceToken(Base):
    __tablename__ = "device_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 (hex) of the cookie's random secret; the secret itself is never stored
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: the browser it was issued to (``User-Agent``), shown on the account page
    user_agent: Mapped[str] = mapped_column(String(512), default="")

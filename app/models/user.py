"""People who sign in."""

from __future__ import annotations

import enum
import secrets
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Enum, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.credential import Credential


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


class UserStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    DISABLED = "disabled"


def normalize_username(raw: str) -> str:
    """The comparison form of a username: NFKC, then case-folded (RFC 8265 §3.3 in spirit)."""
    return unicodedata.normalize("NFKC", raw).casefold().strip()


def new_user_handle() -> bytes:
    """A random 64-byte WebAuthn user handle, never derived from the username (WebAuthn §14.6.1)."""
    return secrets.token_bytes(64)


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        length=16,
    )


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("length(user_handle) = 64", name="user_handle_64"),
        #: the admin dashboard's "hardware key required by role" policy counts
        Index("ix_users_role_status", "role", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the name as the person typed it, shown back to them
    username: Mapped[str] = mapped_column(String(64))
    #: NFKC + casefold of ``username``; what uniqueness and sign-in compare
    username_normalized: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    #: contact address; ``email_verified`` says whether certificate SAN mapping may use it
    email: Mapped[str] = mapped_column(String(254), default="")
    email_verified: Mapped[bool] = mapped_column(default=False)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.USER)
    status: Mapped[UserStatus] = mapped_column(
        _enum(UserStatus, "user_status"), default=UserStatus.ACTIVE, index=True
    )
    #: WebAuthn user.id: random, 64 bytes, the handle a discoverable credential returns
    user_handle: Mapped[bytes] = mapped_column(
        LargeBinary(64), unique=True, default=new_user_handle
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    credentials: Mapped[list[Credential]] = relationship(
        back_populates="user", order_by="Credential.id"
    )

    # Flask-Login's user protocol, without importing Flask into the model layer.
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def active_credentials(self) -> list[Credential]:
        return [c for c in self.credentials if c.revoked_at is None]

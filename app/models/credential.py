"""One table for every kind of credential: passwords, pinned certificates and passkeys.

Modelled on Indico's identity table: ``(kind, lookup_key)`` is unique, so a certificate's
SPKI SHA-256 or a passkey's credential id can belong to one user only, ever (threat model
B.7, C.14). Check constraints make the database enforce what each kind must carry.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.user import User


class CredentialKind(enum.StrEnum):
    PASSWORD = "password"
    CERTIFICATE = "certificate"
    PASSKEY = "passkey"


class Strength(enum.IntEnum):
    """How hard a credential is to steal, weakest first (the migration funnel's steps)."""

    PASSWORD = 1
    CERTIFICATE = 2  #: a key in a file on a computer
    SYNCED_PASSKEY = 3  #: a passkey in a cloud-synced keychain
    HARDWARE_KEY = 4  #: a device-bound key (security key, TPM, secure enclave)

    @property
    def label(self) -> str:
        return {
            1: "password",
            2: "certificate (file)",
            3: "passkey (synced)",
            4: "security key (hardware)",
        }[self.value]


_KIND_RULES = {
    "password": "lookup_key IS NULL AND secret_hash IS NOT NULL",
    "certificate": "lookup_key IS NOT NULL AND length(lookup_key) = 64 AND public_key IS NOT NULL",
    "passkey": "lookup_key IS NOT NULL AND public_key IS NOT NULL AND sign_count IS NOT NULL",
}


class Credential(Base):
    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("kind", "lookup_key"),
        CheckConstraint(
            " OR ".join(f"(kind = '{k}' AND {rule})" for k, rule in _KIND_RULES.items()),
            name="kind_material",
        ),
        # At most one live password per user.
        Index(
            "uq_credentials_live_password",
            "user_id",
            unique=True,
            sqlite_where=text("kind = 'password' AND revoked_at IS NULL"),
            postgresql_where=text("kind = 'password' AND revoked_at IS NULL"),
        ),
        Index("ix_credentials_kind_not_after", "kind", "not_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CredentialKind] = mapped_column(
        Enum(CredentialKind, name="credential_kind", native_enum=False, length=16,
             values_callable=lambda e: [m.value for m in e], validate_strings=True)
    )
    #: what the user calls it ("Work laptop", "YubiKey 5C")
    label: Mapped[str] = mapped_column(String(100), default="")
    #: per kind: passkey credential id (base64url), certificate SPKI SHA-256 (hex);
    #: NULL for passwords
    lookup_key: Mapped[str | None] = mapped_column(String(1400))

    # -- public material ---------------------------------------------------------------
    #: password: the argon2id PHC string (parameters included)
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    #: certificate: DER SubjectPublicKeyInfo; passkey: COSE_Key
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: certificate: the DER certificate last seen with this key
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary)

    # -- passkey metadata (WebAuthn §6.1, §6.3.3) --------------------------------------
    sign_count: Mapped[int | None] = mapped_column(BigInteger)
    transports: Mapped[list[str] | None] = mapped_column(JSON)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    model_name: Mapped[str | None] = mapped_column(String(200))
    backup_eligible: Mapped[bool | None] = mapped_column()
    backup_state: Mapped[bool | None] = mapped_column()
    attestation_format: Mapped[str | None] = mapped_column(String(32))
    #: none | self | basic-unverified | verified
    attestation_trust: Mapped[str | None] = mapped_column(String(20))
    #: set when a signature counter went backwards: a possible cloned authenticator
    clone_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # -- certificate metadata (RFC 5280 §4.1) ------------------------------------------
    subject: Mapped[str | None] = mapped_column(String(1024))
    issuer: Mapped[str | None] = mapped_column(String(1024))
    serial: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: how the pin was made: handshake | upload | csr | ca-first-use | operator
    source: Mapped[str | None] = mapped_column(String(20))
    #: False for an uploaded certificate until a TLS handshake first proves the key
    proven: Mapped[bool] = mapped_column(default=True)

    #: anything else worth keeping about the kind (hash parameters, key description, ...)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_address: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship(back_populates="credentials")

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def strength(self) -> Strength:
        if self.kind is CredentialKind.PASSWORD:
            return Strength.PASSWORD
        if self.kind is CredentialKind.CERTIFICATE:
            return Strength.CERTIFICATE
        return Strength.SYNCED_PASSKEY if self.backup_eligible else Strength.HARDWARE_KEY

    @property
    def display_name(self) -> str:
        if self.label:
            return self.label
        if self.kind is CredentialKind.PASSKEY:
            return self.model_name or "Passkey"
        if self.kind is CredentialKind.CERTIFICATE:
            return self.subject or "Certificate"
        return "Password"

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
    Computed,
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
    """How hard a credential is to steal, weakest first: the one order that step-up, the
    reports, the dashboard and every page use (docs/credentials.md, "How strong each way in
    is").

    A passkey's place comes from what is known of it, never from what it might be: backup
    eligibility (WebAuthn L3 §6.1.3, the BE flag) says whether it can be copied to other
    devices; only a verified attestation (§6.5) proves what hardware holds a device-bound
    one. A device-bound passkey with attestation ``none`` may be a security key, a laptop's
    TPM or software that claims to be either.
    """

    PASSWORD = 1
    CERTIFICATE = 2  #: a key in a file on a computer
    SYNCED_PASSKEY = 3  #: a passkey in a cloud-synced keychain
    DEVICE_KEY = 4  #: a device-bound passkey or security key; what holds it is unproven
    HARDWARE_KEY = 5  #: a device-bound key whose attestation proved its make and model

    @property
    def label(self) -> str:
        """The strength's name on every page, report and step-up message."""
        return _STRENGTH_LABELS[self]

    @property
    def description(self) -> str:
        return _STRENGTH_DESCRIPTIONS[self]


_STRENGTH_LABELS = {
    Strength.PASSWORD: "password",
    Strength.CERTIFICATE: "certificate file",
    Strength.SYNCED_PASSKEY: "synced passkey",
    Strength.DEVICE_KEY: "device-bound key",
    Strength.HARDWARE_KEY: "attested hardware key",
}
_STRENGTH_DESCRIPTIONS = {
    Strength.PASSWORD: "something you know; it can be phished or guessed",
    Strength.CERTIFICATE: "a private key in a file, which can be copied off the computer",
    Strength.SYNCED_PASSKEY: "a passkey your password manager copies to your other devices",
    Strength.DEVICE_KEY: "a passkey that stays on one device or security key, which did "
    "not prove what it is",
    Strength.HARDWARE_KEY: "a passkey that stays on one device whose maker's attestation "
    "Keystile verified",
}


class StrengthFlag(enum.IntFlag):
    """``credentials.strength_flag``: one bit per strength class, so that a user's flags
    combined (bit_or / sum of distinct) say which classes they have, and the highest bit is
    their strongest (the admin funnel and policy reports)."""

    PASSWORD = 1
    CERTIFICATE = 2
    SYNCED_PASSKEY = 4
    DEVICE_KEY = 8  #: device-bound passkey; its model only reported by the authenticator
    ATTESTED_DEVICE_KEY = 16  #: device-bound passkey whose attestation was verified

    @property
    def strength(self) -> Strength:
        return _FLAG_STRENGTH[self]


_FLAG_STRENGTH = {
    StrengthFlag.PASSWORD: Strength.PASSWORD,
    StrengthFlag.CERTIFICATE: Strength.CERTIFICATE,
    StrengthFlag.SYNCED_PASSKEY: Strength.SYNCED_PASSKEY,
    StrengthFlag.DEVICE_KEY: Strength.DEVICE_KEY,
    StrengthFlag.ATTESTED_DEVICE_KEY: Strength.HARDWARE_KEY,
}

#: the same rule as ``Credential.strength``, computed and stored by the database
STRENGTH_FLAG_SQL = (
    "CASE WHEN kind = 'password' THEN 1 WHEN kind = 'certificate' THEN 2 "
    "WHEN backup_eligible THEN 4 WHEN attestation_trust = 'verified' THEN 16 ELSE 8 END"
)

#: ``kind_name`` in a sentence, where "this device" would be wrong (an e-mail, another page)
_NOUNS = {
    "Passkey on this device": "passkey",
    "Passkey on a phone": "passkey on a phone",
    "Certificate file": "certificate",
}

#: transports of a roaming authenticator (WebAuthn L3 §5.8.4): a security key
_ROAMING = frozenset({"usb", "nfc", "ble", "smart-card"})

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
        # Admin reports (app.services.reports, .dashboard): each user's live strength
        # flags, live credentials by strength, additions and removals by day, and the rare
        # clone flags, each read from a small index. Partial indexes keep "live" and
        # "revoked" apart, so neither misleads the planner about the other.
        Index(
            "ix_credentials_live_user_strength",
            "user_id",
            "strength_flag",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ix_credentials_live_strength",
            "strength_flag",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index("ix_credentials_created_strength", "created_at", "strength_flag"),
        Index(
            "ix_credentials_revoked_strength",
            "revoked_at",
            "strength_flag",
            sqlite_where=text("revoked_at IS NOT NULL"),
            postgresql_where=text("revoked_at IS NOT NULL"),
        ),
        Index(
            "ix_credentials_clone_flagged_at",
            "clone_flagged_at",
            sqlite_where=text("clone_flagged_at IS NOT NULL"),
            postgresql_where=text("clone_flagged_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[CredentialKind] = mapped_column(
        Enum(
            CredentialKind,
            name="credential_kind",
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        )
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

    #: a StrengthFlag bit, computed by the database from kind, backup and attestation
    strength_flag: Mapped[int] = mapped_column(Computed(STRENGTH_FLAG_SQL, persisted=True))

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
        if self.backup_eligible:
            return Strength.SYNCED_PASSKEY
        return (
            Strength.HARDWARE_KEY if self.attestation_trust == "verified" else (Strength.DEVICE_KEY)
        )

    @property
    def kind_name(self) -> str:
        """What the credential is, from what it said about itself (WebAuthn L3 §5.8.4
        transports, §6.1.3 backup eligibility): the same words on every page."""
        if self.kind is CredentialKind.PASSWORD:
            return "Password"
        if self.kind is CredentialKind.CERTIFICATE:
            return "Certificate file"
        if self.backup_eligible:
            return "Synced passkey"
        transports = set(self.transports or ())
        if transports & _ROAMING:
            return "Security key"
        if transports == {"hybrid"}:
            return "Passkey on a phone"
        return "Passkey on this device"

    @property
    def kind_noun(self) -> str:
        """The kind in a sentence, with its article: "a security key", "a password"."""
        noun = _NOUNS.get(self.kind_name, self.kind_name.lower())
        return f"a {noun}"

    @property
    def model_text(self) -> str:
        """The authenticator's model and how it is known: proven by a verified attestation,
        or only what the authenticator reports (its AAGUID); empty when unknown."""
        if self.kind is not CredentialKind.PASSKEY or not self.model_name:
            return ""
        how = "attested" if self.attestation_trust == "verified" else "as it reports itself"
        return f"{self.model_name} ({how})"

    @property
    def display_name(self) -> str:
        if self.label:
            return self.label
        if self.kind is CredentialKind.PASSKEY:
            return self.model_name or self.kind_name
        if self.kind is CredentialKind.CERTIFICATE:
            return self.subject or "Certificate"
        return "Password"

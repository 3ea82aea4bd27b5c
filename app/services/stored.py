"""Credentials as a sign-in reads them: the row an assertion or a certificate names, with its
owner, as one plain row (§7.2 steps 5-6 for a passkey; the key pin for a certificate).

Not ORM objects: loading a credential and its user through the ORM costs a sign-in more
than the query that reads them (bench/passkey_login.py and cert_login.py), for objects the
sign-in only reads. The few paths that change them (a counter regression flags
the passkey, a handshake proves a pin, a first sign-in by a method notifies the user, the
Flask views' sessions) load the ORM objects they need with :func:`loaded`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, aliased

from app.models import Credential, CredentialKind, Role, User, UserStatus
from app.models.base import Executor, connection_of
from app.services import groups
from app.services.audit import Identified


@dataclass(frozen=True)
class Account:
    """A user as a sign-in reads them."""

    id: int
    username: str
    user_handle: bytes
    role: Role
    status: UserStatus

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE


@dataclass(frozen=True)
class StoredPasskey:
    """A passkey row as a sign-in reads it (revoked or not), and its owner."""

    id: int
    user: Account
    lookup_key: str
    public_key: bytes
    sign_count: int
    backup_eligible: bool | None
    backup_state: bool | None
    aaguid: str | None
    attestation_trust: str | None
    revoked_at: datetime | None
    clone_flagged_at: datetime | None
    last_used_at: datetime | None

    @property
    def user_id(self) -> int:
        return self.user.id


@dataclass(frozen=True)
class Profile:
    """What the forward-auth gate reports of an account beyond :class:`Account` (its
    ``Remote-*`` headers), read in the same query as a certificate pin: a pinned
    certificate shown with a check signs in on the spot (:mod:`app.gate.who`)."""

    username_normalized: str
    email: str
    display_name: str
    #: :func:`app.services.groups.names_of`: comma-separated, None for no group
    group_names: str | None


@dataclass(frozen=True)
class StoredCertificate:
    """A certificate pin as a sign-in reads it (revoked or not), and its owner."""

    id: int
    user: Account
    profile: Profile
    proven: bool
    certificate_der: bytes | None
    revoked_at: datetime | None
    last_used_at: datetime | None


def loaded(db: Session, user: Identified, credential: Identified) -> tuple[User, Credential]:
    """``user`` and ``credential`` as ORM objects in ``db`` (the ones ``db`` holds already,
    if it does: no query then)."""
    return db.get_one(User, user.id), db.get_one(Credential, credential.id)


_BY_KEY = aliased(Credential)
#: the columns of :class:`Account` (:func:`_owner`)
_OWNER = (User.id.label("owner_id"), User.username, User.user_handle, User.role, User.status)


def _by_key(*columns: Any) -> Select[Any]:
    """The credential of a ``(kind, lookup_key)`` with its owner. The row is picked by id
    from a subquery on the key: SQLite plans a join with the key condition in it far worse
    (bench/passkey_login.py shows it)."""
    return (
        select(Credential.id, *columns, *_OWNER)
        .join(User, User.id == Credential.user_id)
        .where(
            Credential.id
            == select(_BY_KEY.id)
            .where(_BY_KEY.kind == bindparam("kind"), _BY_KEY.lookup_key == bindparam("lookup_key"))
            .scalar_subquery()
        )
    )


_PASSKEY = _by_key(
    Credential.lookup_key,
    Credential.public_key,
    Credential.sign_count,
    Credential.backup_eligible,
    Credential.backup_state,
    Credential.aaguid,
    Credential.attestation_trust,
    Credential.revoked_at,
    Credential.clone_flagged_at,
    Credential.last_used_at,
)
_CERTIFICATE = _by_key(
    Credential.proven,
    Credential.certificate_der,
    Credential.revoked_at,
    Credential.last_used_at,
    User.username_normalized,
    User.email,
    User.display_name,
    groups.names_of(User.id),
)


def _row(db: Executor, statement: Select[Any], kind: CredentialKind, lookup_key: str) -> Any:
    return connection_of(db).execute(statement, {"kind": kind, "lookup_key": lookup_key}).first()


def _owner(row: Any) -> Account:
    return Account(
        id=row.owner_id,
        username=row.username,
        user_handle=row.user_handle,
        role=row.role,
        status=row.status,
    )


def accounts_by_verified_email(db: Executor, emails: Collection[str]) -> list[tuple[Account, str]]:
    """The accounts whose verified address, lower-cased, is one of ``emails`` (lower-case),
    each with its address as stored."""
    rows = connection_of(db).execute(
        select(*_OWNER, User.email).where(
            func.lower(User.email).in_(emails), User.email_verified.is_(True)
        )
    )
    return [(_owner(r), r.email) for r in rows]


def find_passkey(db: Executor, lookup_key: str) -> StoredPasskey | None:
    """The passkey with this credential id (base64url), revoked or not, with its owner."""
    r = _row(db, _PASSKEY, CredentialKind.PASSKEY, lookup_key)
    if r is None:
        return None
    return StoredPasskey(
        id=r.id,
        user=_owner(r),
        lookup_key=r.lookup_key,
        public_key=r.public_key or b"",
        sign_count=r.sign_count or 0,
        backup_eligible=r.backup_eligible,
        backup_state=r.backup_state,
        aaguid=r.aaguid,
        attestation_trust=r.attestation_trust,
        revoked_at=r.revoked_at,
        clone_flagged_at=r.clone_flagged_at,
        last_used_at=r.last_used_at,
    )


def find_certificate(db: Executor, spki_sha256: str) -> StoredCertificate | None:
    """The certificate pinned by this key digest, revoked or not, with its owner and what
    the gate reports of them."""
    r = _row(db, _CERTIFICATE, CredentialKind.CERTIFICATE, spki_sha256)
    if r is None:
        return None
    return StoredCertificate(
        id=r.id,
        user=_owner(r),
        profile=Profile(
            username_normalized=r.username_normalized,
            email=r.email,
            display_name=r.display_name,
            group_names=r.group_names,
        ),
        proven=bool(r.proven),
        certificate_der=r.certificate_der,
        revoked_at=r.revoked_at,
        last_used_at=r.last_used_at,
    )

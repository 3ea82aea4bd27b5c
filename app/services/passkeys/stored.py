"""The passkey an assertion names, with its owner, as the sign-in reads them (§7.2 steps 5-6).

A plain row, not ORM objects: loading a credential and its user through the ORM cost about
0.15 ms of a passkey sign-in's 4 ms budget (issue #4) for objects the sign-in only reads;
the few paths that change them (a counter regression flags the credential, a first sign-in
by passkey notifies the user) load the ORM objects they change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from app.models import Credential, CredentialKind, Role, User, UserStatus
from app.models.base import Executor
from app.models.prepared import Prepared


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


_BY_KEY = aliased(Credential)
#: The row is picked by id from a subquery on the (kind, lookup_key) key: SQLite plans the
#: join with the key condition in it about six times slower (bench/passkey_login.py).
_FIND = Prepared(
    select(Credential.id, Credential.lookup_key, Credential.public_key, Credential.sign_count,
           Credential.backup_eligible, Credential.backup_state, Credential.aaguid,
           Credential.attestation_trust, Credential.revoked_at, Credential.clone_flagged_at,
           Credential.last_used_at, User.id.label("owner_id"), User.username,
           User.user_handle, User.role, User.status)
    .join(User, User.id == Credential.user_id)
    .where(Credential.id == select(_BY_KEY.id)
           .where(_BY_KEY.kind == bindparam("kind"),
                  _BY_KEY.lookup_key == bindparam("lookup_key"))
           .scalar_subquery())
)


def find_passkey(db: Executor, lookup_key: str) -> StoredPasskey | None:
    """The passkey with this credential id (base64url), revoked or not, with its owner."""
    rows = _FIND.run(db, {"kind": CredentialKind.PASSKEY, "lookup_key": lookup_key})
    if not rows:
        return None
    r = rows[0]
    return StoredPasskey(
        id=r.id,
        user=Account(id=r.owner_id, username=r.username, user_handle=r.user_handle,
                     role=r.role, status=r.status),
        lookup_key=r.lookup_key, public_key=r.public_key or b"", sign_count=r.sign_count or 0,
        backup_eligible=r.backup_eligible, backup_state=r.backup_state,
        aaguid=r.aaguid, attestation_trust=r.attestation_trust, revoked_at=r.revoked_at,
        clone_flagged_at=r.clone_flagged_at, last_used_at=r.last_used_at)

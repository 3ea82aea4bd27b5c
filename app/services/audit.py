"""Audit events: named tags and the one function that writes an audit row.

Tags are string enums in the manner of Warehouse's ``events/tags.py``: ``area:method:what``.
Callers write the row in the same transaction as the change it records (ASVS V16).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import AuditEvent, table_of, utcnow
from app.models.base import connection_of


class Event(enum.StrEnum):
    PASSWORD_SUCCESS = "auth:password:success"
    PASSWORD_FAILURE = "auth:password:failure"
    CERTIFICATE_SUCCESS = "auth:certificate:success"
    CERTIFICATE_FAILURE = "auth:certificate:failure"
    CERTIFICATE_HEADER_IGNORED = "auth:certificate:header_ignored"
    PASSKEY_SUCCESS = "auth:passkey:success"
    PASSKEY_FAILURE = "auth:passkey:failure"
    THROTTLED = "auth:throttled"
    #: the throttle's shared storage failed (failure) or answers again (success)
    THROTTLE_STORAGE = "system:throttle:storage"
    LOGOUT = "auth:logout"
    GATE_HANDOFF = "auth:gate:handoff"
    #: a certificate-bound session's cookie came without that certificate's key
    SESSION_KEY_MISMATCH = "auth:session:binding_mismatch"
    SESSIONS_ENDED = "account:sessions:ended"
    DEVICES_FORGOTTEN = "account:devices:forgotten"
    CREDENTIAL_ADDED = "account:credential:added"
    CREDENTIAL_RENAMED = "account:credential:renamed"
    CREDENTIAL_REMOVED = "account:credential:removed"
    CREDENTIAL_REFUSED = "account:credential:refused"
    CREDENTIAL_CLONE_FLAGGED = "account:credential:clone_flagged"
    PASSWORD_CHANGED = "account:password:changed"
    PASSWORD_CHANGE_FAILURE = "account:password:change_failure"
    ACCOUNT_REQUESTED = "account:request:created"
    ACCOUNT_REQUEST_APPROVED = "account:request:approved"
    ACCOUNT_REQUEST_REJECTED = "account:request:rejected"
    USER_CREATED = "account:user:created"
    USER_DISABLED = "account:user:disabled"
    USER_ENABLED = "account:user:enabled"
    ENROLMENT_LINK_ISSUED = "account:enrolment:issued"
    ENROLMENT_FAILURE = "account:enrolment:failure"
    GROUP_MEMBER_ADDED = "account:group:added"
    GROUP_MEMBER_REMOVED = "account:group:removed"
    ADMIN_ACTION = "admin:action"
    HOUSEKEEPING = "system:housekeeping"
    AUDIT_PRUNED = "system:audit:pruned"


class Identified(Protocol):
    """A stored row an audit row names: an ORM object, or a plain row a sign-in read."""

    @property
    def id(self) -> int: ...


@dataclass(frozen=True)
class Client:
    """Who is on the other end of a request, as the web layer determined it."""

    address: str = ""
    user_agent: str = ""
    request_id: str = ""


SYSTEM = Client(address="", user_agent="keystile-cli", request_id="")

#: a plain INSERT: an audit row is written once and never read back in the same request, so
#: it skips the ORM's unit of work, which has nothing to track for it
_INSERT = insert(table_of(AuditEvent))


def record(
    db: Session,
    event: Event,
    *,
    client: Client,
    success: bool,
    user: Identified | None = None,
    credential: Identified | None = None,
    method: str | None = None,
    reason: str | None = None,
    actor: Identified | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one audit row in ``db``'s transaction (the caller commits it with the change).

    ``user``, ``credential`` and ``actor`` must already have their ids (flushed).
    """
    connection_of(db).execute(
        _INSERT,
        {
            "created_at": utcnow(),
            "tag": str(event),
            "user_id": user.id if user is not None else None,
            "credential_id": credential.id if credential is not None else None,
            "actor_id": actor.id if actor is not None else None,
            "method": method,
            "outcome": "success" if success else "failure",
            "reason": reason,
            "address": client.address[:64] or None,
            "user_agent": client.user_agent[:512] or None,
            "request_id": client.request_id[:64] or None,
            "details": details or {},
        },
    )

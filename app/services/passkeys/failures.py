"""The audit trail of a refused ceremony: ``_Attempt`` gathers what is known about it so far
(the account, the credential, details), and ``_audit_failure`` commits one audit row with the
refusal's precise reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.services.audit import Client, Event, Identified, record
from app.services.passkeys.errors import Ceremony, PasskeyError


@dataclass
class _Attempt:
    """What is known about a ceremony so far, for its audit row."""

    ceremony: Ceremony
    user: Identified | None = None
    credential: Identified | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _audit_failure(
    db: Session, event: Event, exc: PasskeyError, attempt: _Attempt, client: Client
) -> None:
    details = {"ceremony": attempt.ceremony, "code": exc.code, **attempt.details}
    if exc.detail:
        details["detail"] = exc.detail
    record(
        db,
        event,
        client=client,
        success=False,
        user=attempt.user,
        credential=attempt.credential,
        method="passkey",
        reason=exc.reason,
        details=details,
    )
    db.commit()

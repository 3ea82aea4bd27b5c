"""Challenges (threat model C.11): one-time tokens stored hashed, bound to the ceremony and to
the browser session that asked for them, spent *before* anything in the response is checked and
valid for ``CHALLENGE_LIFETIME``. :func:`prune_challenges` deletes expired ones (in batches when
a request does it), and :func:`challenge_of` reads the unverified challenge a response claims to
answer, to find the browser session's token for it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import OneTimeToken, TokenPurpose, User
from app.models.base import Executor
from app.services import tokens, webauthn
from app.services.passkeys.encoding import _b64, _unb64
from app.services.passkeys.errors import Ceremony, PasskeyError
from app.services.passkeys.policy import PasskeyPolicy
from app.services.webauthn import MAX_RESPONSE_BYTES, WebAuthnError

#: How long a challenge may be answered (C.11); the browser's own timeout is the same.
CHALLENGE_LIFETIME = timedelta(milliseconds=webauthn.CEREMONY_TIMEOUT_MS)
#: how long an expired challenge is kept before housekeeping deletes it
PRUNE_AFTER = timedelta(hours=1)
#: how many a sign-in request deletes at most (about one request in ``prune_every``)
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class Challenge:
    """Options for the browser, and what the browser session keeps to answer them."""

    options_json: str
    #: the challenge, base64url: how the session finds ``secret`` again for a response
    key: str
    #: the one-time token's secret; never stored server-side in clear
    secret: str


def _issue(
    db: Executor,
    policy: PasskeyPolicy,
    purpose: TokenPurpose,
    options: tuple[str, bytes],
    *,
    now: datetime,
    user: User | None,
    payload: dict[str, Any],
) -> Challenge:
    options_json, challenge = options
    key = _b64(challenge)
    secret = tokens.issue(
        db,
        purpose,
        now=now,
        lifetime=CHALLENGE_LIFETIME,
        user_id=user.id if user else None,
        payload={"challenge": key, **payload},
    )
    if secrets.randbelow(policy.prune_every) == 0:
        # Every sign-in page view stores a challenge; without cron, the table still stays
        # small. Kept for a while after expiry so a late answer is audited as "expired".
        prune_challenges(db, now=now - PRUNE_AFTER, commit=False, batch=PRUNE_BATCH)
    db.commit()
    return Challenge(options_json=options_json, key=key, secret=secret)


@dataclass(frozen=True)
class _Spent:
    challenge: bytes
    payload: dict[str, Any]
    #: the account the challenge was issued for (None: discoverable sign-in or a decoy)
    user_id: int | None


def _spend(
    db: Session, purpose: TokenPurpose, secret: str, *, ceremony: Ceremony, now: datetime
) -> _Spent:
    """Use a challenge up, before anything in the response is checked (C.11).

    It is spent in the caller's transaction: every refusal commits it with its audit row,
    a success with the new credential or session. Until then the row stays locked, so a
    concurrent second use waits and then finds it used (``UPDATE ... WHERE used_at IS NULL``).

    Raises:
        PasskeyError: ``bad_challenge``: none was issued to this browser session for this
            response, it was already used, it expired, or it belongs to another ceremony.
    """
    token = tokens.consume(db, purpose, secret, now=now) if secret else None
    if token is None:
        raise PasskeyError(
            "bad_challenge",
            WebAuthnError("bad_challenge").message,
            reason=_unusable(db, purpose, secret),
            ceremony=ceremony,
        )
    payload = dict(token.payload or {})
    if payload.get("ceremony") != ceremony:
        raise PasskeyError(
            "bad_challenge",
            WebAuthnError("bad_challenge").message,
            reason="challenge_wrong_ceremony",
            ceremony=ceremony,
        )
    challenge = payload.get("challenge")
    return _Spent(_unb64(challenge) if isinstance(challenge, str) else b"", payload, token.user_id)


def _explain(refusal: PasskeyError, body: bytes) -> PasskeyError:
    """A response with no readable challenge at all is malformed, not merely stale."""
    if challenge_of(body):
        return refusal
    return PasskeyError(
        "malformed",
        WebAuthnError("malformed").message,
        detail="clientDataJSON holds no challenge",
        ceremony="authentication",
    )


def prune_challenges(
    db: Executor, *, now: datetime, commit: bool = True, batch: int | None = None
) -> int:
    """Delete challenges expired at ``now`` (every sign-in page view issues one for autofill);
    at most ``batch`` of them when given, so that a sign-in request never waits for a backlog.

    Returns:
        How many were deleted.
    """
    expired = select(OneTimeToken.id).where(
        OneTimeToken.purpose.in_(
            [str(TokenPurpose.WEBAUTHN_REGISTRATION), str(TokenPurpose.WEBAUTHN_AUTHENTICATION)]
        ),
        OneTimeToken.expires_at <= now,
    )
    if batch is not None:
        expired = expired.order_by(OneTimeToken.expires_at).limit(batch)
    result = db.execute(delete(OneTimeToken).where(OneTimeToken.id.in_(expired)))
    if commit:
        db.commit()
    return int(getattr(result, "rowcount", 0))


def _unusable(db: Session, purpose: TokenPurpose, secret: str) -> str:
    """Why ``secret`` named no live challenge (for the audit row only)."""
    if not secret:
        return "challenge_not_in_session"
    row = db.scalar(select(OneTimeToken).where(OneTimeToken.token_hash == tokens.digest(secret)))
    if row is None or row.purpose != str(purpose):
        return "challenge_unknown"
    return "challenge_replayed" if row.used_at is not None else "challenge_expired"


def challenge_of(body: bytes | str) -> str:
    """The challenge a response claims to answer (unverified), or "" if there is none.

    Only used to find this browser session's token for it; :mod:`app.services.webauthn`
    compares the challenge itself (§7.1 step 8, §7.2 step 11).
    """
    try:
        if len(body) > MAX_RESPONSE_BYTES:
            return ""
        response = json.loads(body).get("response", {})
        client_data = json.loads(_unb64(response.get("clientDataJSON", "")))
        challenge = client_data.get("challenge", "")
    except (ValueError, TypeError, AttributeError, RecursionError):
        return ""
    return challenge if isinstance(challenge, str) and len(challenge) <= 128 else ""

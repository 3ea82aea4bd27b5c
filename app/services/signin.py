"""Password sign-in: one answer for every failure, and the time of one verification for all.

Unknown user, disabled user and wrong password give the same result and spend the same
argon2 work (threat model D.17); the audit row records the real reason.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Credential, User
from app.services import accounts, credentials
from app.services.audit import Client, Event, record
from app.services.passwords import MAX_LENGTH, Passwords


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    credential: Credential | None
    reason: str | None = None
    #: whether the credential had signed in before this sign-in
    used_before: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None


def password_sign_in(
    db: Session,
    passwords: Passwords,
    *,
    username: str,
    password: str,
    client: Client,
    now: datetime,
    hashing: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> SignInResult:
    """Check a username and password; audit the attempt; rehash when parameters changed.

    ``hashing`` is held around the account's look-up and the argon2 work (the password
    budget's slot, :mod:`app.services.hash_budget`): a sign-in it refuses costs no query,
    and the audit row and the commit come after it, so a slot turns over as fast as a
    verification even while writers wait for the database. Whatever it raises (no slot)
    leaves nothing written.
    """
    if len(password) > MAX_LENGTH:
        # Refuse before hashing: an enormous password must not buy a costly hash.
        user, cred = accounts.find_user_with_password(db, username)
        reason: str | None = "too_long"
    else:
        with hashing():
            user, cred = accounts.find_user_with_password(db, username)
            reason = _check(passwords, user, cred, password)
    if reason is None and user is not None and cred is not None:
        used_before = cred.last_used_at is not None
        credentials.record_sign_in(db, cred, client=client, now=now)
        record(
            db,
            Event.PASSWORD_SUCCESS,
            client=client,
            success=True,
            user=user,
            credential=cred,
            method="password",
        )
        return SignInResult(user, cred, used_before=used_before)
    record(
        db,
        Event.PASSWORD_FAILURE,
        client=client,
        success=False,
        user=user,
        credential=cred,
        method="password",
        reason=reason,
        details={} if user else {"username": username[:64]},
    )
    db.commit()
    return SignInResult(None, None, reason)


def _check(
    passwords: Passwords, user: User | None, cred: Credential | None, password: str
) -> str | None:
    """Why ``password`` does not sign ``user`` in (None: it does), after the same argon2
    work in every case (a dummy verification when there is nothing to verify: threat model
    D.17); a password stored under older parameters is rehashed."""
    if cred is None or cred.secret_hash is None:
        passwords.verify_dummy(password)
        return "unknown_user" if user is None else "no_password"
    if not passwords.verify(cred.secret_hash, password):
        return "wrong_password"
    if user is None or not user.is_active:
        return "account_" + (str(user.status) if user else "missing")
    if passwords.needs_rehash(cred.secret_hash):
        cred.secret_hash = passwords.hash(password)
    return None

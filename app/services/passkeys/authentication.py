"""Authentication (§7.2): :func:`begin_authentication` gives the options for
``navigator.credentials.get()``, with a stable decoy ``allowCredentials`` for a username that
has no usable passkey; :func:`finish_authentication` spends the challenge, finds the credential
(§7.2 steps 5-6), checks that the user handle names its owner (§7.2 step 6, C.15), verifies the
assertion, flags a possible clone (§6.1.1, C.13) and records the sign-in, or audits the refusal
as ``auth:passkey:failure``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Credential, TokenPurpose, normalize_username
from app.models.base import Executor
from app.services import accounts, credentials, webauthn
from app.services.audit import Client, Event, record
from app.services.notices import NULL_MAILER, Mailer
from app.services.passkeys.challenges import Challenge, _explain, _issue, _spend, _Spent
from app.services.passkeys.encoding import _b64, _unb64
from app.services.passkeys.errors import PasskeyError
from app.services.passkeys.failures import _Attempt, _audit_failure
from app.services.passkeys.listing import _live_passkeys
from app.services.passkeys.policy import PasskeyPolicy, _check_model
from app.services.stored import Account, StoredPasskey, find_passkey
from app.services.webauthn import WebAuthnError


@dataclass(frozen=True)
class SignIn:
    """A verified assertion: the passkey and its owner as read (plain rows, not ORM
    objects: :func:`app.services.stored.loaded` gives those to a caller that needs them)."""

    user: Account
    credential: StoredPasskey
    #: whether the credential had signed in before this sign-in
    used_before: bool = False


def begin_authentication(
    db: Session, policy: PasskeyPolicy, *, now: datetime, username: str | None = None
) -> Challenge:
    """Options for ``navigator.credentials.get()``.

    Without a username: a discoverable sign-in (the button, or conditional mediation).
    With one: ``allowCredentials`` lists that account's passkeys, for security keys that
    hold no discoverable credential. An unknown, disabled or passkey-less account gets a
    stable decoy list instead, so the answer does not tell which usernames exist.
    """
    if username is None:
        return begin_discoverable_authentication(db, policy, now=now)
    user = accounts.find_user(db, username)
    passkeys = _live_passkeys(user) if user is not None and user.is_active else []
    if user is None or not passkeys:
        user, allow = None, _decoy(policy, username)
    else:
        allow = [(_unb64(c.lookup_key or ""), c.transports) for c in passkeys]
    options = webauthn.authentication_options(
        rp=policy.rp, allow=allow, user_verification="required"
    )
    return _issue(
        db,
        policy,
        TokenPurpose.WEBAUTHN_AUTHENTICATION,
        options,
        now=now,
        user=user,
        payload={"ceremony": "authentication", "mode": "username"},
    )


def begin_discoverable_authentication(
    db: Executor, policy: PasskeyPolicy, *, now: datetime
) -> Challenge:
    """Options for a discoverable sign-in (the button, or conditional mediation): nothing is
    looked up, so a plain connection will do."""
    options = webauthn.authentication_options(rp=policy.rp, allow=[], user_verification="required")
    return _issue(
        db,
        policy,
        TokenPurpose.WEBAUTHN_AUTHENTICATION,
        options,
        now=now,
        user=None,
        payload={"ceremony": "authentication", "mode": "discoverable"},
    )


def _decoy(policy: PasskeyPolicy, username: str) -> list[tuple[bytes, list[str] | None]]:
    """A made-up credential, the same for a username every time, of a plausible shape."""
    # surrogatepass: a JSON username may hold a lone surrogate ("\ud800"), which plain
    # UTF-8 cannot encode; it still gets its own stable decoy.
    mac = hmac.new(
        policy.decoy_key,
        normalize_username(username)[:256].encode("utf-8", "surrogatepass"),
        hashlib.sha512,
    ).digest()
    length = (16, 32, 48, 64)[mac[0] % 4]
    transports = (["usb"], ["nfc", "usb"], ["hybrid", "internal"], ["internal"])[mac[1] % 4]
    return [(mac[:length], transports)]


def finish_authentication(
    db: Session,
    policy: PasskeyPolicy,
    *,
    secret: str,
    body: bytes,
    client: Client,
    now: datetime,
    mailer: Mailer = NULL_MAILER,
) -> SignIn:
    """Verify an assertion; on success, update the credential and audit the sign-in.

    The caller starts the session, whose commit also stores the new sign count, backup
    state and audit row (as :func:`app.services.signin.password_sign_in` does).

    Raises:
        PasskeyError: anything refused; audited as ``auth:passkey:failure``.
    """
    attempt = _Attempt("authentication")
    try:
        # Spent first, whatever follows (C.11); a refusal is raised once the credential is
        # known, so that its audit row names the account.
        spent: _Spent | PasskeyError = _spend(
            db, TokenPurpose.WEBAUTHN_AUTHENTICATION, secret, ceremony="authentication", now=now
        )
    except PasskeyError as exc:
        spent = exc
    try:
        credential = _find_credential(db, body, attempt)
        if isinstance(spent, PasskeyError):
            raise _explain(spent, body)
        user = credential.user
        _check_owner(credential, spent, body)
        if credential.clone_flagged_at is not None:
            raise PasskeyError("credential_flagged")
        assertion = _verify_assertion(
            db, policy, credential, body, spent.challenge, client=client, now=now, mailer=mailer
        )
        if not user.is_active:
            raise PasskeyError("account_disabled")
        _check_model(
            policy,
            user,
            credential.aaguid,
            credential.attestation_trust,
            bool(credential.backup_eligible),
            "authentication",
        )
    except PasskeyError as exc:
        _audit_failure(db, Event.PASSKEY_FAILURE, exc, attempt, client)
        raise
    used_before = credential.last_used_at is not None
    # §7.2 step 24: the backup state may change; the counter only moves on.
    credentials.record_use(
        db,
        credential_id=credential.id,
        user_id=user.id,
        client=client,
        now=now,
        sign_count=assertion.new_sign_count,
        backup_state=assertion.backup_state,
    )
    record(
        db,
        Event.PASSKEY_SUCCESS,
        client=client,
        success=True,
        user=user,
        credential=credential,
        method="passkey",
        details={"backup_state": assertion.backup_state},
    )
    # The Signal API state is sent by the account page the browser goes to next
    # (GET /webauthn/signal-state), keeping this hot path to the queries it needs.
    return SignIn(user=user, credential=credential, used_before=used_before)


def _find_credential(db: Session, body: bytes, attempt: _Attempt) -> StoredPasskey:
    """§7.2 step 5-6: the credential the response names, if this site knows it."""
    try:
        raw_id = webauthn.parse_credential_id(body)
    except WebAuthnError as exc:
        raise PasskeyError.from_webauthn(exc, "authentication") from exc
    credential_id = _b64(raw_id)
    credential = find_passkey(db, credential_id)
    if credential is None or credential.revoked_at is not None:
        raise PasskeyError(
            "unknown_credential",
            credential_id=credential_id,
            reason="revoked_credential" if credential else "unknown_credential",
        )
    attempt.user, attempt.credential = credential.user, credential
    return credential


def _check_owner(credential: StoredPasskey, spent: _Spent, body: bytes) -> None:
    """§7.2 step 6 (C.15): the user handle names the credential's owner.

    Discoverable sign-in identifies the user *only* by the handle, so it must be there;
    a username-first sign-in must use one of that account's credentials.
    """
    try:
        handle = webauthn.parse_user_handle(body)
    except WebAuthnError as exc:
        raise PasskeyError.from_webauthn(exc, "authentication") from exc
    username_first = spent.payload.get("mode") == "username"
    if username_first and spent.user_id != credential.user_id:
        raise PasskeyError("credential_not_allowed")
    if handle is None and not username_first:
        raise PasskeyError("user_handle_missing")
    if handle is not None and not hmac.compare_digest(handle, credential.user.user_handle):
        raise PasskeyError("user_handle_mismatch")


def _verify_assertion(
    db: Session,
    policy: PasskeyPolicy,
    credential: StoredPasskey,
    body: bytes,
    challenge: bytes,
    *,
    client: Client,
    now: datetime,
    mailer: Mailer,
) -> webauthn.PasskeyAssertion:
    try:
        return webauthn.verify_authentication(
            rp=policy.rp,
            response_json=body,
            expected_challenge=challenge,
            credential_public_key=credential.public_key,
            stored_sign_count=credential.sign_count,
            stored_backup_eligible=credential.backup_eligible,
            # Passkeys replace the password here: always "something you have" plus
            # "something you know or are" (§6.2.3).
            require_user_verification=True,
        )
    except WebAuthnError as exc:
        if exc.code == "counter_regression":
            # §6.1.1: a signed response whose counter went backwards; a clone is possible.
            credentials.flag_clone(
                db,
                db.get_one(Credential, credential.id),
                client=client,
                now=now,
                mailer=mailer,
                details={"detail": exc.detail},
            )
        raise PasskeyError.from_webauthn(exc, "authentication") from exc

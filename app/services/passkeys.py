"""Passkey ceremonies: challenges, policy, credential rows and their audit trail.

Plain Python over a database session. The web layer says who is asking and passes the raw
request body; it keeps the returned :class:`Challenge` secret in the browser's cookie session
and hands it back with the response. Everything WebAuthn itself checks is in
:mod:`app.services.webauthn`; this module adds what the relying party decides (W3C Web
Authentication Level 3, §7.1 "Registering a New Credential" and §7.2 "Verifying an
Authentication Assertion", threat model section C):

* challenges are one-time tokens stored hashed, bound to the ceremony and to the browser
  session that asked for them, spent *before* verifying and valid for five minutes (C.11);
* a discoverable sign-in's user handle must be the credential owner's (§7.2 step 6, C.15);
* a counter that went backwards flags the credential as a possible clone (§6.1.1, C.13);
* a credential id is registered once, for anyone, ever (§7.1 step 26, C.14);
* ``KEYSTILE_REQUIRE_HARDWARE_KEY_FOR`` roles use only device-bound keys whose attestation
  was verified (§7.1 step 24, §6.1.3), and models an MDS blob marks compromised are refused.

Every refusal is a :class:`PasskeyError` and one audit row with its precise reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.models import (
    Credential,
    CredentialKind,
    OneTimeToken,
    Role,
    TokenPurpose,
    User,
    normalize_username,
)
from app.services import accounts, credentials, tokens, webauthn
from app.services.aaguids import model_name
from app.services.audit import Client, Event, record
from app.services.credentials import CredentialError
from app.services.mds import MetadataBlob, MetadataError, load_files
from app.services.notices import NULL_MAILER, Mailer
from app.services.webauthn import (
    MAX_RESPONSE_BYTES,
    AttestationFormat,
    AuthenticatorKind,
    RelyingParty,
    WebAuthnError,
)

__all__ = [
    "CHALLENGE_LIFETIME",
    "KINDS",
    "Ceremony",
    "Challenge",
    "PasskeyError",
    "PasskeyPolicy",
    "SignIn",
    "accepted_credential_ids",
    "begin_authentication",
    "begin_registration",
    "challenge_of",
    "finish_authentication",
    "finish_registration",
    "policy_from_settings",
    "prune_challenges",
]

#: How long a challenge may be answered (C.11); the browser's own timeout is the same.
CHALLENGE_LIFETIME = timedelta(milliseconds=webauthn.CEREMONY_TIMEOUT_MS)
#: how long an expired challenge is kept before housekeeping deletes it
PRUNE_AFTER = timedelta(hours=1)
#: how many a sign-in request deletes at most (about one request in ``prune_every``)
PRUNE_BATCH = 1000
#: ``registration`` adds a credential to a signed-in account; ``enrolment`` sets up the
#: first credential from an enrolment link; ``authentication`` signs in.
Ceremony = Literal["registration", "enrolment", "authentication"]
KINDS: tuple[AuthenticatorKind, ...] = ("passkey", "security-key")

_MESSAGES = {
    "unknown_credential": "This passkey is not registered here (it may have been removed). "
                          "Please use another way to sign in.",
    "credential_not_allowed": "This passkey cannot be used for that account.",
    "user_handle_missing": "Your authenticator did not say which account this passkey is for. "
                           "Enter your username and use a security key instead.",
    "user_handle_mismatch": "This passkey does not match its account, so it was refused.",
    "credential_flagged": "This passkey was flagged as possibly copied and can no longer be "
                          "used. Sign in another way, or ask your administrator.",
    "account_disabled": "This account is disabled.",
    "hardware_key_required": "Your role needs a hardware security key whose model can be "
                             "verified, and this authenticator is not one.",
    "authenticator_compromised": "This authenticator model has been reported as compromised, "
                                 "so it cannot be used.",
    "enrolment_link_used": "This enrolment link was already used.",
    "bad_request": "The request could not be understood.",
}
#: HTTP status per code; anything else: 401 when signing in, 400 otherwise.
_STATUS = {
    "too_large": 413,
    "malformed": 400,
    "bad_request": 400,
    "already_registered": 409,
    "account_disabled": 403,
    "hardware_key_required": 403,
    "authenticator_compromised": 403,
    "enrolment_link_used": 404,
}


class PasskeyError(Exception):
    """A refused ceremony.

    Attributes:
        code: stable, for clients and tests (``bad_challenge``, ``unknown_credential``, ...).
        message: a sentence safe to show the user.
        reason: what the audit row records; more precise than ``code`` where that helps
            (``challenge_replayed`` for a ``bad_challenge``).
        status: the HTTP status the web layer answers with.
        credential_id: base64url id of a credential the server does not know, so the
            browser may tell the authenticator (``PublicKeyCredential.signalUnknownCredential``).
    """

    def __init__(self, code: str, message: str = "", *, reason: str = "", status: int = 0,
                 detail: str = "", credential_id: str | None = None,
                 ceremony: Ceremony = "authentication") -> None:
        self.code = code
        self.message = message or _MESSAGES.get(code, "The passkey was refused.")
        self.reason = (reason or code)[:64]
        self.status = status or _STATUS.get(code, 401 if ceremony == "authentication" else 400)
        self.detail = detail[:300]
        self.credential_id = credential_id
        super().__init__(f"{self.reason}: {self.detail}" if self.detail else self.reason)

    @classmethod
    def from_webauthn(cls, exc: WebAuthnError, ceremony: Ceremony) -> PasskeyError:
        return cls(exc.code, exc.message, detail=exc.detail, ceremony=ceremony)


@dataclass(frozen=True)
class PasskeyPolicy:
    """What this relying party accepts; built once per application."""

    rp: RelyingParty
    #: roles whose passkeys must be verified, device-bound hardware keys
    hardware_key_roles: frozenset[str] = frozenset()
    metadata: MetadataBlob | None = None
    #: keys the decoy ``allowCredentials`` for unknown usernames (never sent anywhere)
    decoy_key: bytes = b"keystile-decoy"
    #: about one challenge in this many also deletes the long-expired ones (1: every time)
    prune_every: int = 200

    def requires_hardware_key(self, user: User) -> bool:
        return str(user.role) in self.hardware_key_roles


def policy_from_settings(settings: Settings) -> PasskeyPolicy:
    """The policy for an application's settings; loads and verifies the MDS blob if set.

    Raises:
        ValueError: a setting is unusable (unknown role, blob without root, bad blob).
    """
    roles = frozenset(settings.require_hardware_key_for)
    unknown = roles - {str(r) for r in Role}
    if unknown:
        raise ValueError("KEYSTILE_REQUIRE_HARDWARE_KEY_FOR: unknown role "
                         + ", ".join(sorted(unknown)))
    metadata = None
    if settings.mds_blob:
        if not settings.mds_root:
            raise ValueError("KEYSTILE_MDS_BLOB needs KEYSTILE_MDS_ROOT")
        try:
            metadata = load_files(settings.mds_blob, settings.mds_root)
        except (MetadataError, OSError) as exc:
            raise ValueError(f"KEYSTILE_MDS_BLOB: {exc}") from exc
    return PasskeyPolicy(
        rp=RelyingParty(id=settings.webauthn_rp_id, name=settings.rp_name,
                        origins=settings.webauthn_origins),
        hardware_key_roles=roles,
        metadata=metadata,
        decoy_key=hmac.new(settings.secret_key.encode(), b"webauthn-decoy",
                           hashlib.sha256).digest(),
    )


@dataclass(frozen=True)
class Challenge:
    """Options for the browser, and what the browser session keeps to answer them."""

    options_json: str
    #: the challenge, base64url: how the session finds ``secret`` again for a response
    key: str
    #: the one-time token's secret; never stored server-side in clear
    secret: str


@dataclass(frozen=True)
class SignIn:
    user: User
    credential: Credential


@dataclass
class _Attempt:
    """What is known about a ceremony so far, for its audit row."""

    ceremony: Ceremony
    user: User | None = None
    credential: Credential | None = None
    details: dict[str, Any] = field(default_factory=dict)


# -- challenges (C.11) ------------------------------------------------------------------


def _issue(db: Session, policy: PasskeyPolicy, purpose: TokenPurpose,
           options: tuple[str, bytes], *, now: datetime,
           user: User | None, payload: dict[str, Any]) -> Challenge:
    options_json, challenge = options
    key = _b64(challenge)
    secret = tokens.issue(db, purpose, now=now, lifetime=CHALLENGE_LIFETIME,
                          user_id=user.id if user else None,
                          payload={"challenge": key, **payload})
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


def _spend(db: Session, purpose: TokenPurpose, secret: str, *, ceremony: Ceremony,
           now: datetime) -> _Spent:
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
        raise PasskeyError("bad_challenge", WebAuthnError("bad_challenge").message,
                           reason=_unusable(db, purpose, secret), ceremony=ceremony)
    payload = dict(token.payload or {})
    if payload.get("ceremony") != ceremony:
        raise PasskeyError("bad_challenge", WebAuthnError("bad_challenge").message,
                           reason="challenge_wrong_ceremony", ceremony=ceremony)
    challenge = payload.get("challenge")
    return _Spent(_unb64(challenge) if isinstance(challenge, str) else b"", payload,
                  token.user_id)


def _explain(refusal: PasskeyError, body: bytes) -> PasskeyError:
    """A response with no readable challenge at all is malformed, not merely stale."""
    if challenge_of(body):
        return refusal
    return PasskeyError("malformed", WebAuthnError("malformed").message,
                        detail="clientDataJSON holds no challenge", ceremony="authentication")


def prune_challenges(db: Session, *, now: datetime, commit: bool = True,
                     batch: int | None = None) -> int:
    """Delete challenges expired at ``now`` (every sign-in page view issues one for autofill);
    at most ``batch`` of them when given, so that a sign-in request never waits for a backlog.

    Returns:
        How many were deleted.
    """
    expired = select(OneTimeToken.id).where(
        OneTimeToken.purpose.in_([str(TokenPurpose.WEBAUTHN_REGISTRATION),
                                  str(TokenPurpose.WEBAUTHN_AUTHENTICATION)]),
        OneTimeToken.expires_at <= now)
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


# -- registration (§7.1) ----------------------------------------------------------------


def begin_registration(db: Session, policy: PasskeyPolicy, *, user: User,
                       kind: AuthenticatorKind, now: datetime,
                       ceremony: Ceremony = "registration") -> Challenge:
    """Options for ``navigator.credentials.create()`` for ``user``.

    ``passkey``: discoverable, user verification required (sign-in without a username).
    ``security-key``: roaming, ``direct`` attestation so the model can be named.
    Roles that need a hardware key always ask for ``direct`` attestation.
    """
    if kind not in KINDS:
        raise PasskeyError("bad_request", "Choose a passkey or a security key.",
                           ceremony=ceremony)
    options = webauthn.registration_options(
        rp=policy.rp,
        user_handle=user.user_handle,
        username=user.username,
        display_name=user.display_name,
        # §5.4 excludeCredentials: the authenticator refuses to register twice.
        exclude=[(_unb64(c.lookup_key or ""), c.transports) for c in _live_passkeys(user)],
        kind=kind,
        attestation="direct" if policy.requires_hardware_key(user) else None,
    )
    return _issue(db, policy, TokenPurpose.WEBAUTHN_REGISTRATION, options, now=now, user=user,
                  payload={"ceremony": ceremony, "kind": kind})


def finish_registration(db: Session, policy: PasskeyPolicy, *, user: User, secret: str,
                        body: bytes, client: Client, now: datetime,
                        mailer: Mailer = NULL_MAILER, ceremony: Ceremony = "registration",
                        enrolment_secret: str = "") -> Credential:
    """Verify a new credential and add it to ``user``'s account.

    Args:
        body: ``PublicKeyCredential.toJSON()`` of the result of ``create()``, with an
            optional extra top-level ``"label"`` string.
        enrolment_secret: for ``enrolment``: the link's secret, spent in the same
            transaction as the credential is added, and only then.

    Raises:
        PasskeyError: anything refused; audited as ``account:credential:refused``.
    """
    attempt = _Attempt(ceremony, user=user)
    try:
        spent: _Spent | PasskeyError = _spend(db, TokenPurpose.WEBAUTHN_REGISTRATION, secret,
                                              ceremony=ceremony, now=now)
    except PasskeyError as exc:
        spent = exc
    try:
        _require_envelope(body, ceremony)  # an unreadable body says more than its challenge
        if isinstance(spent, PasskeyError):
            raise _explain(spent, body)
        if spent.user_id != user.id:
            raise PasskeyError("bad_challenge", WebAuthnError("bad_challenge").message,
                               reason="challenge_other_account", ceremony=ceremony)
        kind = spent.payload.get("kind", "passkey")
        attempt.details["kind"] = kind
        registration = _verify_registration(policy, body, spent.challenge, kind == "passkey",
                                            ceremony)
        attempt.details["aaguid"] = registration.aaguid
        _check_model(policy, user, registration.aaguid, registration.attestation_trust,
                     registration.backup_eligible, ceremony)
        credential = _new_credential(policy, registration, label=_label(body), kind=kind)
        if enrolment_secret:
            _spend_enrolment_link(db, enrolment_secret, credential, now=now)
    except PasskeyError as exc:
        _audit_failure(db, Event.CREDENTIAL_REFUSED, exc, attempt, client)
        raise
    try:
        return credentials.add(db, credential, user=user, client=client, now=now, mailer=mailer,
                               details={"kind": kind, "model": credential.model_name,
                                        "attestation": registration.attestation_trust})
    except CredentialError as exc:  # already registered: audited by credentials.add
        raise PasskeyError(exc.code, "This authenticator is already registered.",
                           ceremony=ceremony) from exc


def _require_envelope(body: bytes, ceremony: Ceremony) -> None:
    try:
        webauthn.parse_user_handle(body)  # size, JSON object, a "response" object
    except WebAuthnError as exc:
        raise PasskeyError.from_webauthn(exc, ceremony) from exc


def _spend_enrolment_link(db: Session, secret: str, credential: Credential, *,
                          now: datetime) -> None:
    """Use the link up in the transaction that adds the credential: both or neither.

    A credential id that is already taken is left to :func:`credentials.add` to refuse,
    with the link still unspent.
    """
    if credentials.find(db, CredentialKind.PASSKEY, credential.lookup_key or "") is not None:
        return
    if tokens.consume(db, TokenPurpose.ENROLMENT, secret, now=now) is None:
        raise PasskeyError("enrolment_link_used", ceremony="enrolment")


def _verify_registration(policy: PasskeyPolicy, body: bytes, challenge: bytes,
                         require_uv: bool, ceremony: Ceremony) -> webauthn.PasskeyRegistration:
    try:
        return webauthn.verify_registration(
            rp=policy.rp,
            response_json=body,
            expected_challenge=challenge,
            require_user_verification=require_uv,
            attestation_roots=_attestation_roots(policy, body),
        )
    except WebAuthnError as exc:
        raise PasskeyError.from_webauthn(exc, ceremony) from exc


def _attestation_roots(policy: PasskeyPolicy,
                       body: bytes) -> dict[AttestationFormat, list[bytes]] | None:
    """The MDS roots for the model the response claims to be (§7.1 step 23).

    The AAGUID is read before anything is verified, only to choose the roots; a response
    lying about it cannot chain to the roots of the model it claims.
    """
    if policy.metadata is None:
        return None
    roots = policy.metadata.attestation_roots(_claimed_aaguid(body))
    if not roots:
        return None
    return {fmt: roots for fmt in AttestationFormat if fmt is not AttestationFormat.NONE}


def _claimed_aaguid(body: bytes) -> str | None:
    from webauthn.helpers import aaguid_to_string, parse_attestation_object

    try:
        response = json.loads(body)["response"]
        parsed = parse_attestation_object(_unb64(response["attestationObject"]))
        attested = parsed.auth_data.attested_credential_data
        return aaguid_to_string(attested.aaguid) if attested else None
    except Exception:  # noqa: BLE001 - verification reports the real problem
        return None


def _new_credential(policy: PasskeyPolicy, reg: webauthn.PasskeyRegistration, *, label: str,
                    kind: str) -> Credential:
    """The credential record of §7.1 step 27, in Keystile's one credentials table."""
    described = policy.metadata.description(reg.aaguid) if policy.metadata else None
    return Credential(
        kind=CredentialKind.PASSKEY,
        label=label,
        lookup_key=reg.credential_id_b64url,
        public_key=reg.public_key,
        sign_count=reg.sign_count,
        transports=reg.transports,
        aaguid=reg.aaguid,
        model_name=(described or model_name(reg.aaguid) or None),
        backup_eligible=reg.backup_eligible,
        backup_state=reg.backup_state,
        attestation_format=reg.fmt,
        attestation_trust=reg.attestation_trust,
        details={"kind": kind, "attachment": reg.authenticator_attachment,
                 "user_verified": reg.user_verified, "device_type": reg.device_type},
    )


def _label(body: bytes) -> str:
    try:
        value = json.loads(body).get("label", "")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return credentials.clean_label(value) if isinstance(value, str) else ""


# -- authentication (§7.2) --------------------------------------------------------------


def begin_authentication(db: Session, policy: PasskeyPolicy, *, now: datetime,
                         username: str | None = None) -> Challenge:
    """Options for ``navigator.credentials.get()``.

    Without a username: a discoverable sign-in (the button, or conditional mediation).
    With one: ``allowCredentials`` lists that account's passkeys, for security keys that
    hold no discoverable credential. An unknown, disabled or passkey-less account gets a
    stable decoy list instead, so the answer does not tell which usernames exist.
    """
    user, allow = None, []
    if username is not None:
        user = accounts.find_user(db, username)
        passkeys = _live_passkeys(user) if user is not None and user.is_active else []
        if user is None or not passkeys:
            user, allow = None, _decoy(policy, username)
        else:
            allow = [(_unb64(c.lookup_key or ""), c.transports) for c in passkeys]
    options = webauthn.authentication_options(rp=policy.rp, allow=allow,
                                              user_verification="required")
    return _issue(db, policy, TokenPurpose.WEBAUTHN_AUTHENTICATION, options, now=now, user=user,
                  payload={"ceremony": "authentication",
                           "mode": "discoverable" if username is None else "username"})


def _decoy(policy: PasskeyPolicy, username: str) -> list[tuple[bytes, list[str] | None]]:
    """A made-up credential, the same for a username every time, of a plausible shape."""
    # surrogatepass: a JSON username may hold a lone surrogate ("\ud800"), which plain
    # UTF-8 cannot encode; it still gets its own stable decoy.
    mac = hmac.new(policy.decoy_key,
                   normalize_username(username)[:256].encode("utf-8", "surrogatepass"),
                   hashlib.sha512).digest()
    length = (16, 32, 48, 64)[mac[0] % 4]
    transports = (["usb"], ["nfc", "usb"], ["hybrid", "internal"], ["internal"])[mac[1] % 4]
    return [(mac[:length], transports)]


def finish_authentication(db: Session, policy: PasskeyPolicy, *, secret: str, body: bytes,
                          client: Client, now: datetime,
                          mailer: Mailer = NULL_MAILER) -> SignIn:
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
        spent: _Spent | PasskeyError = _spend(db, TokenPurpose.WEBAUTHN_AUTHENTICATION,
                                              secret, ceremony="authentication", now=now)
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
        assertion = _verify_assertion(db, policy, credential, body, spent.challenge,
                                      client=client, now=now, mailer=mailer)
        if not user.is_active:
            raise PasskeyError("account_disabled")
        _check_model(policy, user, credential.aaguid, credential.attestation_trust,
                     bool(credential.backup_eligible), "authentication")
    except PasskeyError as exc:
        _audit_failure(db, Event.PASSKEY_FAILURE, exc, attempt, client)
        raise
    # §7.2 step 24: the backup state may change; the counter only moves on.
    credentials.record_sign_in(db, credential, client=client, now=now,
                               sign_count=assertion.new_sign_count,
                               backup_state=assertion.backup_state)
    record(db, Event.PASSKEY_SUCCESS, client=client, success=True, user=user,
           credential=credential, method="passkey",
           details={"backup_state": assertion.backup_state})
    # The Signal API state is sent by the account page the browser goes to next
    # (GET /webauthn/signal-state), keeping this hot path to the queries it needs.
    return SignIn(user=user, credential=credential)


def _find_credential(db: Session, body: bytes, attempt: _Attempt) -> Credential:
    """§7.2 step 5-6: the credential the response names, if this site knows it."""
    try:
        raw_id = webauthn.parse_credential_id(body)
    except WebAuthnError as exc:
        raise PasskeyError.from_webauthn(exc, "authentication") from exc
    credential_id = _b64(raw_id)
    credential = credentials.find(db, CredentialKind.PASSKEY, credential_id)
    if credential is None or credential.revoked_at is not None:
        raise PasskeyError("unknown_credential", credential_id=credential_id,
                           reason="revoked_credential" if credential else "unknown_credential")
    attempt.user, attempt.credential = credential.user, credential
    return credential


def _check_owner(credential: Credential, spent: _Spent, body: bytes) -> None:
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


def _verify_assertion(db: Session, policy: PasskeyPolicy, credential: Credential, body: bytes,
                      challenge: bytes, *, client: Client, now: datetime,
                      mailer: Mailer) -> webauthn.PasskeyAssertion:
    try:
        return webauthn.verify_authentication(
            rp=policy.rp,
            response_json=body,
            expected_challenge=challenge,
            credential_public_key=credential.public_key or b"",
            stored_sign_count=credential.sign_count or 0,
            stored_backup_eligible=credential.backup_eligible,
            # Passkeys replace the password here: always "something you have" plus
            # "something you know or are" (§6.2.3).
            require_user_verification=True,
        )
    except WebAuthnError as exc:
        if exc.code == "counter_regression":
            # §6.1.1: a signed response whose counter went backwards; a clone is possible.
            credentials.flag_clone(db, credential, client=client, now=now, mailer=mailer,
                                   details={"detail": exc.detail})
        raise PasskeyError.from_webauthn(exc, "authentication") from exc


# -- policy shared by both ceremonies ---------------------------------------------------


def _check_model(policy: PasskeyPolicy, user: User, aaguid: str | None, trust: str | None,
                 backup_eligible: bool, ceremony: Ceremony) -> None:
    if policy.metadata is not None and policy.metadata.is_compromised(aaguid):
        raise PasskeyError("authenticator_compromised", ceremony=ceremony)
    # §6.1.3: a backup-eligible credential may be copied to other devices by design.
    if policy.requires_hardware_key(user) and (trust != "verified" or backup_eligible):
        raise PasskeyError(
            "hardware_key_required", ceremony=ceremony,
            reason="synced_credential" if backup_eligible else "attestation_not_verified",
        )


def _audit_failure(db: Session, event: Event, exc: PasskeyError, attempt: _Attempt,
                   client: Client) -> None:
    details = {"ceremony": attempt.ceremony, "code": exc.code, **attempt.details}
    if exc.detail:
        details["detail"] = exc.detail
    record(db, event, client=client, success=False, user=attempt.user,
           credential=attempt.credential, method="passkey", reason=exc.reason,
           details=details)
    db.commit()


def accepted_credential_ids(db: Session, user: User) -> list[str]:
    """The ids of ``user``'s live passkeys (for the Signal API, §5.1.10)."""
    return [str(key) for key in db.scalars(
        select(Credential.lookup_key).where(Credential.user_id == user.id,
                                            Credential.kind == CredentialKind.PASSKEY,
                                            Credential.revoked_at.is_(None))
        .order_by(Credential.id))]


def _live_passkeys(user: User | None) -> list[Credential]:
    if user is None:
        return []
    return [c for c in user.active_credentials() if c.kind is CredentialKind.PASSKEY]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError, TypeError):
        return b""

"""Registration (§7.1): :func:`begin_registration` gives the options for
``navigator.credentials.create()``; :func:`finish_registration` spends the challenge, verifies
the response against the MDS roots of the model it claims (§7.1 step 23), applies the policy,
spends an enrolment link in the same transaction and adds the credential record (§7.1 step 27),
or audits the refusal as ``account:credential:refused``.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Credential, CredentialKind, TokenPurpose, User
from app.services import credentials, tokens, webauthn
from app.services.aaguids import model_name
from app.services.audit import Client, Event
from app.services.credentials import CredentialError
from app.services.notices import NULL_MAILER, Mailer
from app.services.passkeys.challenges import Challenge, _explain, _issue, _spend, _Spent
from app.services.passkeys.encoding import _unb64
from app.services.passkeys.errors import Ceremony, PasskeyError
from app.services.passkeys.failures import _Attempt, _audit_failure
from app.services.passkeys.listing import _live_passkeys
from app.services.passkeys.policy import PasskeyPolicy, _check_model
from app.services.webauthn import AttestationFormat, AuthenticatorKind, WebAuthnError

KINDS: tuple[AuthenticatorKind, ...] = ("passkey", "security-key")


def begin_registration(
    db: Session,
    policy: PasskeyPolicy,
    *,
    user: User,
    kind: AuthenticatorKind,
    now: datetime,
    ceremony: Ceremony = "registration",
) -> Challenge:
    """Options for ``navigator.credentials.create()`` for ``user``.

    ``passkey``: discoverable, user verification required (sign-in without a username).
    ``security-key``: roaming, ``direct`` attestation so the model can be named.
    Roles that need a hardware key always ask for ``direct`` attestation.
    """
    if kind not in KINDS:
        raise PasskeyError("bad_request", "Choose a passkey or a security key.", ceremony=ceremony)
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
    return _issue(
        db,
        policy,
        TokenPurpose.WEBAUTHN_REGISTRATION,
        options,
        now=now,
        user=user,
        payload={"ceremony": ceremony, "kind": kind},
    )


def finish_registration(
    db: Session,
    policy: PasskeyPolicy,
    *,
    user: User,
    secret: str,
    body: bytes,
    client: Client,
    now: datetime,
    mailer: Mailer = NULL_MAILER,
    ceremony: Ceremony = "registration",
    enrolment_secret: str = "",
) -> Credential:
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
        spent: _Spent | PasskeyError = _spend(
            db, TokenPurpose.WEBAUTHN_REGISTRATION, secret, ceremony=ceremony, now=now
        )
    except PasskeyError as exc:
        spent = exc
    try:
        _require_envelope(body, ceremony)  # an unreadable body says more than its challenge
        if isinstance(spent, PasskeyError):
            raise _explain(spent, body)
        if spent.user_id != user.id:
            raise PasskeyError(
                "bad_challenge",
                WebAuthnError("bad_challenge").message,
                reason="challenge_other_account",
                ceremony=ceremony,
            )
        kind = spent.payload.get("kind", "passkey")
        attempt.details["kind"] = kind
        registration = _verify_registration(
            policy, body, spent.challenge, kind == "passkey", ceremony
        )
        attempt.details["aaguid"] = registration.aaguid
        _check_model(
            policy,
            user,
            registration.aaguid,
            registration.attestation_trust,
            registration.backup_eligible,
            ceremony,
        )
        credential = _new_credential(policy, registration, label=_label(body), kind=kind)
        if enrolment_secret:
            _spend_enrolment_link(db, enrolment_secret, credential, now=now)
    except PasskeyError as exc:
        _audit_failure(db, Event.CREDENTIAL_REFUSED, exc, attempt, client)
        raise
    try:
        return credentials.add(
            db,
            credential,
            user=user,
            client=client,
            now=now,
            mailer=mailer,
            details={
                "kind": kind,
                "model": credential.model_name,
                "attestation": registration.attestation_trust,
            },
        )
    except CredentialError as exc:  # already registered: audited by credentials.add
        raise PasskeyError(
            exc.code, "This authenticator is already registered.", ceremony=ceremony
        ) from exc


def _require_envelope(body: bytes, ceremony: Ceremony) -> None:
    try:
        webauthn.parse_user_handle(body)  # size, JSON object, a "response" object
    except WebAuthnError as exc:
        raise PasskeyError.from_webauthn(exc, ceremony) from exc


def _spend_enrolment_link(
    db: Session, secret: str, credential: Credential, *, now: datetime
) -> None:
    """Use the link up in the transaction that adds the credential: both or neither.

    A credential id that is already taken is left to :func:`credentials.add` to refuse,
    with the link still unspent.
    """
    if credentials.find(db, CredentialKind.PASSKEY, credential.lookup_key or "") is not None:
        return
    if tokens.consume(db, TokenPurpose.ENROLMENT, secret, now=now) is None:
        raise PasskeyError("enrolment_link_used", ceremony="enrolment")


def _verify_registration(
    policy: PasskeyPolicy, body: bytes, challenge: bytes, require_uv: bool, ceremony: Ceremony
) -> webauthn.PasskeyRegistration:
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


def _attestation_roots(
    policy: PasskeyPolicy, body: bytes
) -> dict[AttestationFormat, list[bytes]] | None:
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


def _new_credential(
    policy: PasskeyPolicy, reg: webauthn.PasskeyRegistration, *, label: str, kind: str
) -> Credential:
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
        details={
            "kind": kind,
            "attachment": reg.authenticator_attachment,
            "user_verified": reg.user_verified,
            "device_type": reg.device_type,
        },
    )


def _label(body: bytes) -> str:
    try:
        value = json.loads(body).get("label", "")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return credentials.clean_label(value) if isinstance(value, str) else ""

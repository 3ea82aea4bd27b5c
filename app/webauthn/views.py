"""Thin JSON views over :mod:`app.services.passkeys`.

Every endpoint takes the CSRF token in the ``X-CSRFToken`` header (:mod:`app.web.csrf`);
options responses are the JSON for ``PublicKeyCredential.parseCreationOptionsFromJSON`` /
``parseRequestOptionsFromJSON`` (WebAuthn L3 §5.1.9-§5.1.10); verify endpoints take the
raw ``PublicKeyCredential.toJSON()`` body (at most 64 KiB). Every refusal is
``{"error": code, "message": sentence}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

from flask import Blueprint, current_app, flash, jsonify, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from app.db import get_db
from app.models import Credential, TokenPurpose, User, utcnow
from app.services import passkeys, stored, tokens
from app.services.audit import Event, record
from app.services.passkeys import Ceremony, PasskeyError, PasskeyPolicy
from app.services.webauthn import MAX_RESPONSE_BYTES, AuthenticatorKind
from app.web import auth_state, throttle
from app.web.auth_state import current_user, recent_auth_required
from app.web.client import current_client
from app.web.context import mailer
from app.web.own_notices import said_by_flash
from app.webauthn import bodies, pending

bp = Blueprint("webauthn", __name__, url_prefix="/webauthn")

POLICY = "keystile.passkeys"
#: endpoint -> (ceremony, audit event) for refusals that happen before the service runs
_VERIFY_ENDPOINTS: dict[str, tuple[Ceremony, Event]] = {
    "webauthn.login_verify": ("authentication", Event.PASSKEY_FAILURE),
    "webauthn.register_verify": ("registration", Event.CREDENTIAL_REFUSED),
    "webauthn.enrol_verify": ("enrolment", Event.CREDENTIAL_REFUSED),
}


@bp.record_once
def _build_policy(state: BlueprintSetupState) -> None:
    """One policy per application: RP, roles, and the MDS blob verified at start-up."""
    app = state.app
    try:
        app.extensions[POLICY] = passkeys.policy_from_settings(app.extensions["keystile.settings"])
    except ValueError as exc:
        print(f"keystile: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _policy() -> PasskeyPolicy:
    policy: PasskeyPolicy = current_app.extensions[POLICY]
    return policy


# -- request and response plumbing --------------------------------------------------------


@bp.before_request
def _limit_body() -> None:
    # Threat model C.16: nothing bigger than a real response with a long chain is read.
    request.max_content_length = MAX_RESPONSE_BYTES


@bp.errorhandler(PasskeyError)
def _refused(exc: PasskeyError) -> tuple[BaseResponse, int]:
    return jsonify(exc.body(_policy().rp.id)), exc.status


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> tuple[BaseResponse, int]:
    return _refused_early(PasskeyError("too_large", "The passkey response was too large."))


@bp.errorhandler(CSRFError)
def _csrf(exc: CSRFError) -> tuple[BaseResponse, int]:
    return _refused_early(
        PasskeyError(
            "csrf", "Your page expired or came from elsewhere. Reload it and try again.", status=400
        )
    )


def _refused_early(exc: PasskeyError) -> tuple[BaseResponse, int]:
    """Audit a verify request refused before its body was read (C.16, E.21)."""
    target = _VERIFY_ENDPOINTS.get(request.endpoint or "")
    if target is not None:
        ceremony, event = target
        user = current_user._get_current_object() if current_user.is_authenticated else None
        db = get_db()
        record(
            db,
            event,
            client=current_client(),
            success=False,
            user=user,
            method="passkey",
            reason=exc.reason,
            details={"ceremony": ceremony, "code": exc.code},
        )
        db.commit()
    return _refused(exc)


def _options_body() -> dict[str, Any]:
    return bodies.options_body(request.get_data())


def _kind(data: dict[str, Any]) -> AuthenticatorKind:
    kind = data.get("kind", "passkey")
    for known in passkeys.KINDS:
        if kind == known:
            return known
    raise PasskeyError("bad_request", 'kind must be "passkey" or "security-key".')


def _options(ceremony: Ceremony, challenge: passkeys.Challenge) -> BaseResponse:
    pending.remember(session, ceremony, challenge)
    return current_app.response_class(challenge.options_json, mimetype="application/json")


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def signal_state(user: User) -> dict[str, Any]:
    """What the WebAuthn Signal API needs (§5.1.10-§5.1.12): live ids, names."""
    return {
        "rpId": _policy().rp.id,
        "userId": base64.urlsafe_b64encode(user.user_handle).rstrip(b"=").decode(),
        "name": user.username,
        "displayName": user.display_name or user.username,
        "allAcceptedCredentialIds": passkeys.accepted_credential_ids(get_db(), user),
    }


def describe(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.lookup_key,
        "name": credential.display_name,
        "model": credential.model_name,
        "attestation": credential.attestation_trust,
        "synced": bool(credential.backup_eligible),
        "backedUp": bool(credential.backup_state),
    }


# -- adding a passkey to a signed-in account (§7.1) -------------------------------------


@bp.post("/register/options")
@recent_auth_required
def register_options() -> BaseResponse:
    """``{"kind": "passkey" | "security-key"}`` -> creation options."""
    if (refused := auth_state.step_up()) is not None:
        return refused
    challenge = passkeys.begin_registration(
        get_db(), _policy(), user=_me(), kind=_kind(_options_body()), now=utcnow()
    )
    return _options("registration", challenge)


@bp.post("/register/verify")
@said_by_flash
@recent_auth_required
def register_verify() -> tuple[BaseResponse, int]:
    """``toJSON()`` of the new credential (+ optional ``"label"``) -> 201 and the credential."""
    # Again (F.24): the account may have gained a stronger credential since the options.
    if (refused := auth_state.step_up()) is not None:
        return refused, 403
    body = request.get_data()
    credential = passkeys.finish_registration(
        get_db(),
        _policy(),
        user=_me(),
        secret=pending.take(session, "registration", body),
        body=body,
        client=current_client(),
        now=utcnow(),
        mailer=mailer(),
    )
    flash(f"Added {credential.kind_noun}: {credential.display_name}.", "success")
    return jsonify(ok=True, credential=describe(credential), signal=signal_state(_me())), 201


# -- a passkey instead of a password, from an enrolment link -----------------------------


def _enrolment_user(token: str) -> User:
    row = tokens.peek(get_db(), TokenPurpose.ENROLMENT, token, now=utcnow())
    user = get_db().get(User, row.user_id) if row is not None and row.user_id else None
    if user is None or not user.is_active:
        raise PasskeyError(
            "enrolment_link_invalid", "This enrolment link is not valid any more.", status=404
        )
    return user


_enrol_limit = throttle.limited("enroll", lambda s: s.login_limit_per_address)


@bp.post("/enrol/<token>/options")
@_enrol_limit
def enrol_options(token: str) -> BaseResponse:
    challenge = passkeys.begin_registration(
        get_db(),
        _policy(),
        user=_enrolment_user(token),
        kind=_kind(_options_body()),
        now=utcnow(),
        ceremony="enrolment",
    )
    return _options("enrolment", challenge)


@bp.post("/enrol/<token>/verify")
@_enrol_limit
def enrol_verify(token: str) -> tuple[BaseResponse, int]:
    user = _enrolment_user(token)
    body = request.get_data()
    credential = passkeys.finish_registration(
        get_db(),
        _policy(),
        user=user,
        secret=pending.take(session, "enrolment", body),
        body=body,
        client=current_client(),
        now=utcnow(),
        mailer=mailer(),
        ceremony="enrolment",
        enrolment_secret=token,
    )
    auth_state.sign_in(user, credential, "passkey")
    flash("Your passkey is set up and you are signed in.", "success")
    return jsonify(
        ok=True,
        credential=describe(credential),
        signal=signal_state(user),
        redirect=url_for("account.index"),
    ), 201


# -- signing in (§7.2) ------------------------------------------------------------------


@bp.post("/login/options")
@throttle.limited("challenge-address", lambda s: s.challenge_limit_per_address, audit_as="passkey")
def login_options() -> BaseResponse:
    """``{}`` (discoverable, autofill) or ``{"username": ...}`` (security keys) -> options."""
    username = bodies.login_username(_options_body())
    challenge = passkeys.begin_authentication(get_db(), _policy(), username=username, now=utcnow())
    return _options("authentication", challenge)


@bp.post("/login/verify")
@throttle.limited(
    "login-address", lambda s: s.login_limit_per_address, failures_only=True, audit_as="passkey"
)
def login_verify() -> BaseResponse:
    """``toJSON()`` of the assertion -> a new session (the account page then signals)."""
    body = request.get_data()
    db = get_db()
    result = passkeys.finish_authentication(
        db,
        _policy(),
        secret=pending.take(session, "authentication", body),
        body=body,
        client=current_client(),
        now=utcnow(),
        mailer=mailer(),
    )
    user, credential = stored.loaded(db, result.user, result.credential)
    auth_state.sign_in(user, credential, "passkey", credential_used_before=result.used_before)
    return jsonify(ok=True, username=result.user.username)


@bp.get("/signal-state")
def signal_state_view() -> tuple[BaseResponse, int]:
    """The signed-in user's accepted passkey ids and names, for the Signal API."""
    if not current_user.is_authenticated:
        raise PasskeyError("not_signed_in", "Please sign in first.", status=401)
    return jsonify(signal_state(_me())), 200

"""Options for the browser: :func:`registration_options` for ``navigator.credentials.create()``
and :func:`authentication_options` for ``navigator.credentials.get()`` (§5.4), each with a fresh
random challenge for the caller to keep server-side; ``AuthenticatorKind`` chooses between a
passkey and a roaming security key.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Literal

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialHint,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app.services.webauthn.limits import (
    CEREMONY_TIMEOUT_MS,
    CHALLENGE_BYTES,
    MAX_USER_HANDLE_BYTES,
    SUPPORTED_ALGORITHMS,
)
from app.services.webauthn.relying_party import RelyingParty

AuthenticatorKind = Literal["passkey", "security-key"]


def registration_options(
    *,
    rp: RelyingParty,
    user_handle: bytes,
    username: str,
    display_name: str,
    exclude: Sequence[tuple[bytes, list[str] | None]] = (),
    kind: AuthenticatorKind = "passkey",
    attestation: Literal["none", "direct"] | None = None,
) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.create()``.

    Args:
        rp: the relying party.
        user_handle: the account's random WebAuthn user id, 1-64 bytes (§5.4.3, §14.6.1).
        username: ``user.name``, e.g. the login name.
        display_name: ``user.displayName``; empty means "same as username".
        exclude: the account's existing credentials as (credential id, transports), so an
            authenticator cannot register twice (§5.4 ``excludeCredentials``).
        kind: ``passkey``: a discoverable credential with user verification, any
            authenticator. ``security-key``: a roaming authenticator (hint and attachment
            ``cross-platform``), discoverable and UV preferred.
        attestation: ``none`` or ``direct``; by default ``none`` for passkeys and ``direct``
            for security keys (to learn and, with roots, verify the model).

    Returns:
        (JSON for ``PublicKeyCredential.parseCreationOptionsFromJSON``, the challenge to
        keep server-side).

    Raises:
        ValueError: on a programming error (bad user handle, empty username).
    """
    if not 1 <= len(user_handle) <= MAX_USER_HANDLE_BYTES:
        raise ValueError("user_handle must be 1 to 64 bytes (WebAuthn §5.4.3)")
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    if kind == "passkey":
        selection = AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        hints = None
        conveyance = attestation or "none"
    elif kind == "security-key":
        selection = AuthenticatorSelectionCriteria(
            authenticator_attachment=AuthenticatorAttachment.CROSS_PLATFORM,
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        hints = [PublicKeyCredentialHint.SECURITY_KEY]
        conveyance = attestation or "direct"
    else:
        raise ValueError(f"unknown authenticator kind {kind!r}")
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=username,
        user_display_name=display_name or username,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference(conveyance),
        authenticator_selection=selection,
        exclude_credentials=[_descriptor(cid, transports) for cid, transports in exclude],
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        hints=hints,
    )
    return options_to_json(options), challenge


def authentication_options(
    *,
    rp: RelyingParty,
    allow: Sequence[tuple[bytes, list[str] | None]] = (),
    user_verification: Literal["required", "preferred"] = "required",
) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.get()``.

    Args:
        rp: the relying party.
        allow: (credential id, transports) of the credentials that may answer; empty for a
            discoverable ("usernameless") sign-in or conditional mediation.
        user_verification: ``required`` for passkey-first sign-in.

    Returns:
        (JSON for ``PublicKeyCredential.parseRequestOptionsFromJSON``, the challenge).
    """
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[_descriptor(cid, transports) for cid, transports in allow],
        user_verification=UserVerificationRequirement(user_verification),
    )
    return options_to_json(options), challenge


def _descriptor(
    credential_id: bytes, transports: list[str] | None
) -> PublicKeyCredentialDescriptor:
    known = {t.value for t in AuthenticatorTransport}
    return PublicKeyCredentialDescriptor(
        id=credential_id,
        transports=[AuthenticatorTransport(t) for t in transports or () if t in known] or None,
    )

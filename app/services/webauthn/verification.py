"""Verifying the browser's answer: :func:`verify_registration` for the result of
``navigator.credentials.create()`` (§7.1) and :func:`verify_authentication` for that of
``navigator.credentials.get()`` (§7.2). py_webauthn performs most steps; these add the refusal
of cross-origin iframes (§7.1 step 10, §7.2 step 13), the checks on the attested credential id
(§7.1 step 25), the attestation trust (§7.1 step 24), the counter, checked only once the
signature is (§7.2 step 22), and the backup eligibility (§7.2 step 18).
"""

from __future__ import annotations

from collections.abc import Mapping

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers.structs import AttestationFormat, CredentialDeviceType

from app.services.webauthn.attestation import _attestation_trust
from app.services.webauthn.envelope import (
    _attachment,
    _credential_id,
    _load,
    _object,
    _refuse_cross_origin,
    _require_b64url_fields,
    _require_challenge,
    _transports,
    _user_handle,
)
from app.services.webauthn.errors import WebAuthnError
from app.services.webauthn.library_errors import _library_errors
from app.services.webauthn.limits import MAX_CREDENTIAL_ID_BYTES, SUPPORTED_ALGORITHMS
from app.services.webauthn.relying_party import RelyingParty
from app.services.webauthn.results import PasskeyAssertion, PasskeyRegistration


def verify_registration(
    *,
    rp: RelyingParty,
    response_json: str | bytes,
    expected_challenge: bytes,
    require_user_verification: bool,
    attestation_roots: Mapping[AttestationFormat, list[bytes]] | None = None,
) -> PasskeyRegistration:
    """Verify the result of ``navigator.credentials.create()`` (§7.1).

    Args:
        rp: the relying party.
        response_json: the request body: ``PublicKeyCredential.toJSON()``.
        expected_challenge: the challenge issued with the options (taken from the session).
        require_user_verification: True for passkeys (§7.1 step 15).
        attestation_roots: PEM root certificates per attestation format (e.g. from the FIDO
            Metadata Service). Without roots for a format, a certificate chain is checked
            for its signature but not trusted: ``attestation_trust`` is ``basic-unverified``.
            ``apple``, ``android-key`` and ``android-safetynet`` are always checked against
            the vendor roots py_webauthn pins.

    Returns:
        The credential to store. The caller still refuses an id already registered to
        anyone (§7.1 step 26) and decides whether the attestation trust is acceptable.

    Raises:
        WebAuthnError: on any problem with the response.
    """
    data = _load(response_json)
    # §7.1 step 25: credential ids longer than 1023 bytes fail the ceremony.
    credential_id = _credential_id(data, too_long="credential_id_too_long")
    response = _object(data.get("response"), "response")
    _require_b64url_fields(response, ("clientDataJSON", "attestationObject"))
    _require_challenge(expected_challenge)
    with _library_errors():
        # py_webauthn performs §7.1 steps 5-9 (client data: type "webauthn.create",
        # challenge, origin), 11-15 (attestation object, RP ID hash, UP, UV), 16 (BS without
        # BE is refused by parse_backup_flags), 19 (alg among ours) and 21-22 (fmt and the
        # attestation statement's signature); see _LIBRARY_MESSAGES for the error mapping.
        verified = verify_registration_response(
            credential=data,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_presence=True,
            require_user_verification=require_user_verification,
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
            pem_root_certs_bytes_by_fmt=attestation_roots,
        )
        # §7.1 step 10: a credential created inside a cross-origin iframe is not expected.
        _refuse_cross_origin(response["clientDataJSON"])
        # The id the browser reports must be the one the authenticator attested (§6.5.2),
        # or the caller would store a row under an id the authenticator never uses.
        if verified.credential_id != credential_id:
            raise WebAuthnError("malformed", "rawId differs from the attested credential id")
        # §7.1 step 25 again, on the attested id itself.
        if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
            raise WebAuthnError("credential_id_too_long")
        # §7.1 step 24: assess the attestation trustworthiness.
        trust = _attestation_trust(verified.attestation_object, verified.aaguid, attestation_roots)
    return PasskeyRegistration(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        fmt=str(AttestationFormat(verified.fmt).value),
        attestation_trust=trust,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backup_state=verified.credential_backed_up,
        transports=_transports(response.get("transports")),
        device_type=str(CredentialDeviceType(verified.credential_device_type).value),
        user_verified=verified.user_verified,
        authenticator_attachment=_attachment(data),
    )


def verify_authentication(
    *,
    rp: RelyingParty,
    response_json: str | bytes,
    expected_challenge: bytes,
    credential_public_key: bytes,
    stored_sign_count: int,
    stored_backup_eligible: bool | None,
    require_user_verification: bool,
) -> PasskeyAssertion:
    """Verify the result of ``navigator.credentials.get()`` (§7.2).

    Args:
        rp: the relying party.
        response_json: the request body: ``PublicKeyCredential.toJSON()``.
        expected_challenge: the challenge issued with the options (taken from the session).
        credential_public_key: the stored COSE key of the credential named by
            :func:`parse_credential_id` (§7.2 steps 5-6 are the caller's lookup).
        stored_sign_count: the stored signature counter.
        stored_backup_eligible: the BE flag stored at registration; None skips the check
            (for records that predate it).
        require_user_verification: §7.2 step 16.

    Returns:
        The new sign count and backup state to store, and the user handle to check.

    Raises:
        WebAuthnError: on any problem. ``counter_regression`` is raised only for a response
        whose signature verified: the caller should flag the credential as possibly cloned.
    """
    data = _load(response_json)
    credential_id = _credential_id(data, too_long="malformed")
    response = _object(data.get("response"), "response")
    _require_b64url_fields(response, ("clientDataJSON", "authenticatorData", "signature"))
    user_handle = _user_handle(response)
    _require_challenge(expected_challenge)
    with _library_errors():
        # py_webauthn performs §7.2 steps 7-12 (client data: type "webauthn.get", challenge,
        # origin), 14 (RP ID hash), 15 (UP), 16 (UV when required), 17 (BS without BE) and
        # 20-21 (the signature over authenticatorData || SHA-256(clientDataJSON)).
        # Its counter check runs *before* the signature, so it is disabled here (a stored
        # count of 0 never trips it) and done below, once the response is known to be signed:
        # an unsigned forgery must never get a credential flagged as cloned.
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=credential_public_key,
            credential_current_sign_count=0,
            require_user_verification=require_user_verification,
        )
        # §7.2 step 13: no assertion from inside a cross-origin iframe.
        _refuse_cross_origin(response["clientDataJSON"])
    new_count = verified.new_sign_count
    # §7.2 step 22 and §6.1.1: when either counter is non-zero, the new one must be greater;
    # otherwise the authenticator may have been cloned. 0/0 is normal for synced passkeys.
    if (new_count or stored_sign_count) and new_count <= stored_sign_count:
        raise WebAuthnError(
            "counter_regression", f"stored sign count {stored_sign_count}, received {new_count}"
        )
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    # §7.2 step 18 and §6.1.3: BE is fixed when the credential is created; BS may change.
    if stored_backup_eligible is not None and backup_eligible != stored_backup_eligible:
        raise WebAuthnError(
            "backup_eligibility_changed",
            f"stored BE={stored_backup_eligible}, received BE={backup_eligible}",
        )
    return PasskeyAssertion(
        credential_id=credential_id,
        new_sign_count=new_count,
        backup_eligible=backup_eligible,
        backup_state=verified.credential_backed_up,
        user_verified=verified.user_verified,
        user_handle=user_handle,
        authenticator_attachment=_attachment(data),
    )

"""WebAuthn ceremonies: a thin wrapper over py_webauthn that speaks Keystile's language.

Plain Python: no Flask request globals, no database, no environment. The caller keeps the
challenge server-side, bound to the session and the ceremony, single use and short-lived
(threat model C.11), looks the credential up with :func:`parse_credential_id` before
verifying, checks that a returned user handle belongs to the credential's owner (§7.2 step 6,
C.15), refuses a credential id that is already registered (§7.1 step 26, C.14) and flags a
credential whose verification fails with ``counter_regression`` (C.13).

Every refusal is a :class:`WebAuthnError` with a stable ``code`` and a ``message`` safe to show;
no other exception leaves this module for any input a client can send.

Spec references are to W3C Web Authentication Level 3: §7.1 "Registering a New Credential",
§7.2 "Verifying an Authentication Assertion".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from cryptography import x509
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import exceptions as lib
from webauthn.helpers import parse_attestation_object
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialHint,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

__all__ = [
    "CEREMONY_TIMEOUT_MS",
    "CHALLENGE_BYTES",
    "MAX_CREDENTIAL_ID_BYTES",
    "MAX_RESPONSE_BYTES",
    "SUPPORTED_ALGORITHMS",
    "AttestationFormat",
    "AttestationTrust",
    "AuthenticatorKind",
    "ErrorCode",
    "PasskeyAssertion",
    "PasskeyRegistration",
    "RelyingParty",
    "WebAuthnError",
    "authentication_options",
    "parse_credential_id",
    "parse_user_handle",
    "registration_options",
    "verify_authentication",
    "verify_registration",
]

#: Largest request body parsed at all (threat model C.16). Real responses are 1-3 KiB;
#: an attestation with a long certificate chain stays well under this.
MAX_RESPONSE_BYTES: Final = 64 * 1024
#: §7.1 step 25: "Verify that the credentialId is ≤ 1023 bytes" (threat model C.14).
MAX_CREDENTIAL_ID_BYTES: Final = 1023
#: §5.4.3: a user handle is at most 64 bytes.
MAX_USER_HANDLE_BYTES: Final = 64
#: §13.4.3: challenges of at least 16 random bytes; we use 32.
CHALLENGE_BYTES: Final = 32
#: How long the browser may wait for the user (a hint to the client, §5.4 / §5.5 `timeout`).
CEREMONY_TIMEOUT_MS: Final = 300_000
#: ES256, EdDSA, RS256 in order of preference (§5.4 `pubKeyCredParams`).
SUPPORTED_ALGORITHMS: Final = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)

AuthenticatorKind = Literal["passkey", "security-key"]
#: How far the attestation was checked, stored with the credential:
#: ``none`` (no attestation), ``self`` (signed by the credential key itself),
#: ``basic-unverified`` (a certificate chain nobody vouched for: the AAGUID and model name are
#: only *reported by the authenticator*), ``verified`` (chain checked against trust roots).
AttestationTrust = Literal["none", "self", "basic-unverified", "verified"]
ErrorCode = Literal[
    "malformed",
    "too_large",
    "bad_origin",
    "bad_rp_id",
    "bad_type",
    "bad_challenge",
    "user_not_present",
    "user_not_verified",
    "bad_signature",
    "counter_regression",
    "backup_eligibility_changed",
    "unsupported_algorithm",
    "unsupported_attestation",
    "bad_attestation",
    "untrusted_attestation",
    "credential_id_too_long",
    "invalid",
]

_MESSAGES: Final[Mapping[ErrorCode, str]] = {
    "malformed": "The passkey response could not be read. Please try again.",
    "too_large": "The passkey response was too large.",
    "bad_origin": "This passkey response was made for another website.",
    "bad_rp_id": "This passkey belongs to another website.",
    "bad_type": "The passkey response does not belong to this step. Please try again.",
    "bad_challenge": "This passkey request has expired or was already used. Please try again.",
    "user_not_present": "Your authenticator did not confirm that you were present.",
    "user_not_verified": (
        "Your authenticator did not verify you (PIN, fingerprint or face). "
        "Please try again and unlock it when asked."
    ),
    "bad_signature": "The passkey signature is not valid.",
    "counter_regression": (
        "This passkey may have been copied, so it was refused. Your administrator has been told."
    ),
    "backup_eligibility_changed": "This passkey changed in an unexpected way, so it was refused.",
    "unsupported_algorithm": "This authenticator uses a signature algorithm that is not supported.",
    "unsupported_attestation": "This authenticator's attestation format is not supported.",
    "bad_attestation": "The authenticator's attestation is not valid.",
    "untrusted_attestation": "This authenticator model is not accepted here.",
    "credential_id_too_long": (
        "This authenticator cannot be registered: its credential id is too long."
    ),
    "invalid": "The passkey response was refused.",
}


class WebAuthnError(Exception):
    """A refused ceremony.

    Attributes:
        code: stable identifier, used for audit reasons and tests.
        message: a sentence safe to show to the user.
        detail: what went wrong, for logs only: it can contain client-supplied text
            (an origin, a format name), so escape it when displaying.
    """

    def __init__(self, code: ErrorCode, detail: str = "") -> None:
        self.code: ErrorCode = code
        self.message: str = _MESSAGES[code]
        self.detail: str = detail[:300]
        super().__init__(f"{code}: {self.detail}" if self.detail else code)


@dataclass(frozen=True)
class RelyingParty:
    """Who we are to the authenticator.

    Attributes:
        id: the RP ID, a registrable domain such as ``example.org`` (§5.1.4, §13.4.9).
        name: shown by some authenticators while creating a credential.
        origins: every origin a response may come from, compared exactly (scheme, host and
            port, §7.1 step 9 / §7.2 step 12). Written as origins, e.g.
            ``https://login.example.org`` or ``http://localhost:8080``; they are normalised to
            the browser's serialisation (lower case, default port dropped, no trailing slash).
    """

    id: str
    name: str
    origins: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip().lower() or "/" in self.id:
            raise ValueError(f"RP ID must be a lower-case domain, not {self.id!r}")
        if not self.name:
            raise ValueError("RP name must not be empty")
        if isinstance(self.origins, str) or not self.origins:
            raise ValueError("origins must be a non-empty tuple of origins")
        origins = tuple(_canonical_origin(o) for o in self.origins)
        for origin in origins:
            host = urlsplit(origin).hostname or ""
            # §5.1.4.1 / §13.4.9: the RP ID must equal the origin's host or be a suffix of it.
            if host != self.id and not host.endswith("." + self.id):
                raise ValueError(f"origin {origin} is not within RP ID {self.id!r}")
        object.__setattr__(self, "origins", origins)


def _canonical_origin(origin: str) -> str:
    """The browser's serialisation of an origin (what clientDataJSON.origin holds)."""
    parts = urlsplit(origin.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"origin {origin!r} has an invalid port") from exc
    if (
        scheme not in ("https", "http")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"{origin!r} is not an origin such as https://login.example.org")
    host = parts.hostname  # lower-cased by urlsplit
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


@dataclass(frozen=True)
class PasskeyRegistration:
    """A verified new credential: what to store (§7.1 step 27 "credential record")."""

    credential_id: bytes
    #: COSE_Key of the credential, as in the authenticator data
    public_key: bytes
    sign_count: int
    #: lower-case 8-4-4-4-12; all zeros when the authenticator did not disclose its model
    aaguid: str
    #: attestation statement format: none, packed, tpm, android-key, apple, fido-u2f, ...
    fmt: str
    attestation_trust: AttestationTrust
    #: BE: may be synced to other devices (§6.1.3); fixed for the credential's lifetime
    backup_eligible: bool
    #: BS: currently backed up (§6.1.3); may change at every assertion
    backup_state: bool
    #: from response.getTransports(), unknown values dropped; pass back in allow/exclude lists
    transports: list[str]
    #: "single_device" or "multi_device" (from BE)
    device_type: str
    user_verified: bool
    #: "platform", "cross-platform" or None, as reported by the browser
    authenticator_attachment: str | None

    @property
    def credential_id_b64url(self) -> str:
        return _b64encode(self.credential_id)


@dataclass(frozen=True)
class PasskeyAssertion:
    """A verified sign-in: the new state to store (§7.2 step 24)."""

    credential_id: bytes
    new_sign_count: int
    backup_eligible: bool
    backup_state: bool
    user_verified: bool
    #: response.userHandle, if the authenticator returned one (always for discoverable
    #: credentials): the caller must check it is the credential owner's handle (§7.2 step 6)
    user_handle: bytes | None
    authenticator_attachment: str | None


# -- options ----------------------------------------------------------------------------


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


# -- looking a response up before verifying it ------------------------------------------


def parse_credential_id(response_json: str | bytes) -> bytes:
    """The credential id of a response, to find the stored credential before verifying.

    Checks only the envelope (size, JSON, ``id`` equal to ``rawId``, canonical base64url,
    1-1023 bytes, ``type``); nothing here is authenticated yet.

    Raises:
        WebAuthnError: ``too_large`` or ``malformed`` (including over-long ids, which no
            registered credential can have).
    """
    return _credential_id(_load(response_json), too_long="malformed")


def parse_user_handle(response_json: str | bytes) -> bytes | None:
    """The ``response.userHandle`` of an assertion, or None when absent (not yet verified).

    Raises:
        WebAuthnError: ``too_large`` or ``malformed``.
    """
    data = _load(response_json)
    return _user_handle(_object(data.get("response"), "response"))


# -- verification -----------------------------------------------------------------------


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


# -- envelope parsing ---------------------------------------------------------------------

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
# The longest unpadded base64url text of 1023 bytes.
_MAX_ID_CHARS = (MAX_CREDENTIAL_ID_BYTES * 4 + 2) // 3


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(value: object, what: str) -> bytes:
    """Strict, canonical, unpadded base64url (the encoding of §5.1's ``toJSON()``)."""
    if not isinstance(value, str) or not _B64URL.fullmatch(value) or len(value) % 4 == 1:
        raise WebAuthnError("malformed", f"{what} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise WebAuthnError("malformed", f"{what} is not base64url") from exc
    # Leftover bits in the last character would give one id several spellings.
    if _b64encode(raw) != value:
        raise WebAuthnError("malformed", f"{what} is not canonical base64url")
    return raw


def _load(response_json: str | bytes) -> dict[str, Any]:
    """Size limit first, then JSON: only an object goes on (threat model C.16)."""
    if not isinstance(response_json, str | bytes | bytearray):
        raise WebAuthnError("malformed", "response is not JSON text")
    if len(response_json) > MAX_RESPONSE_BYTES:
        raise WebAuthnError("too_large", f"{len(response_json)} bytes")
    try:
        text = (
            response_json
            if isinstance(response_json, str)
            else bytes(response_json).decode("utf-8")
        )
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, absurd nesting
        raise WebAuthnError("malformed", "response is not JSON") from exc
    if not isinstance(data, dict):
        raise WebAuthnError("malformed", "response is not a JSON object")
    return data


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise WebAuthnError("malformed", f"{what} is missing or not an object")
    return value


def _credential_id(data: dict[str, Any], *, too_long: ErrorCode) -> bytes:
    cid, raw = data.get("id"), data.get("rawId")
    if not isinstance(cid, str) or not isinstance(raw, str):
        raise WebAuthnError("malformed", "id or rawId missing")
    # §5.1: id is the base64url encoding of rawId.
    if cid != raw:
        raise WebAuthnError("malformed", "id and rawId differ")
    if data.get("type") != "public-key":
        raise WebAuthnError("malformed", "type is not public-key")
    if len(cid) > _MAX_ID_CHARS:
        raise WebAuthnError(too_long, f"{len(cid)} base64url characters")
    credential_id = _b64decode(cid, "credential id")
    if not credential_id:
        raise WebAuthnError("malformed", "empty credential id")
    if len(credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise WebAuthnError(too_long, f"{len(credential_id)} bytes")
    return credential_id


def _require_b64url_fields(response: dict[str, Any], names: Sequence[str]) -> None:
    # Python's decoder silently skips characters outside the alphabet: refuse them here.
    for name in names:
        value = response.get(name)
        if not isinstance(value, str) or not value or not _B64URL.fullmatch(value):
            raise WebAuthnError("malformed", f"response.{name} is missing or not base64url")


def _user_handle(response: dict[str, Any]) -> bytes | None:
    value = response.get("userHandle")
    if value is None or value == "":
        return None
    handle = _b64decode(value, "userHandle")
    if len(handle) > MAX_USER_HANDLE_BYTES:
        raise WebAuthnError("malformed", "userHandle longer than 64 bytes")
    return handle


def _require_challenge(challenge: bytes) -> None:
    # A missing session challenge must never match an empty one in the client data.
    if not isinstance(challenge, bytes) or len(challenge) < 16:
        raise WebAuthnError("bad_challenge", "no challenge was issued for this ceremony")


def _refuse_cross_origin(client_data_b64: str) -> None:
    client_data = json.loads(_b64decode(client_data_b64, "clientDataJSON"))
    if client_data.get("crossOrigin") is True or "topOrigin" in client_data:
        raise WebAuthnError("bad_origin", "made inside a cross-origin iframe")


def _transports(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    known = {t.value for t in AuthenticatorTransport}
    return list(dict.fromkeys(t for t in value if isinstance(t, str) and t in known))


def _attachment(data: dict[str, Any]) -> str | None:
    value = data.get("authenticatorAttachment")
    return value if value in ("platform", "cross-platform") else None


# -- attestation --------------------------------------------------------------------------

#: Formats whose chains py_webauthn always checks against the vendor roots it pins.
_VENDOR_ROOTED = {
    AttestationFormat.APPLE,
    AttestationFormat.ANDROID_KEY,
    AttestationFormat.ANDROID_SAFETYNET,
}
#: id-fido-gen-ce-aaguid (§8.2.1)
_AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def _attestation_trust(
    attestation_object: bytes,
    aaguid: str,
    roots: Mapping[AttestationFormat, list[bytes]] | None,
) -> AttestationTrust:
    statement = parse_attestation_object(attestation_object)
    fmt = AttestationFormat(statement.fmt)
    x5c = statement.att_stmt.x5c if statement.att_stmt else None
    if fmt == AttestationFormat.NONE:
        return "none"
    if fmt in _VENDOR_ROOTED:
        return "verified"
    if fmt == AttestationFormat.PACKED:
        if not x5c:
            # §8.2.1: no x5c means self attestation, signed by the credential key.
            return "self"
        _check_packed_certificate(x5c[0], aaguid)
    if roots and roots.get(fmt):
        # py_webauthn validated x5c up to one of these roots (§7.1 step 24).
        return "verified"
    return "basic-unverified"


def _check_packed_certificate(der: bytes, aaguid: str) -> None:
    """§8.2.1 certificate requirements py_webauthn leaves out."""
    cert = x509.load_der_x509_certificate(der)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise WebAuthnError("bad_attestation", "packed attestation certificate is a CA")
    try:
        extension = cert.extensions.get_extension_for_oid(_AAGUID_EXTENSION).value
    except x509.ExtensionNotFound:
        return
    # The extension holds an OCTET STRING with the 16-byte AAGUID: it must name the same
    # model as the authenticator data, or one model's certificate could vouch for another.
    expected = b"\x04\x10" + bytes.fromhex(aaguid.replace("-", ""))
    if not isinstance(extension, x509.UnrecognizedExtension) or extension.value != expected:
        raise WebAuthnError("bad_attestation", "certificate AAGUID differs from authenticator data")


# -- library errors -----------------------------------------------------------------------

#: py_webauthn 3.0 reports most failures as InvalidRegistrationResponse or
#: InvalidAuthenticationResponse with a descriptive message; these substrings (from its
#: verify_*_response modules) give each one its code. Checked in order.
_LIBRARY_MESSAGES: Final[tuple[tuple[str, ErrorCode], ...]] = (
    ("Unexpected client data type", "bad_type"),
    ("challenge was not expected challenge", "bad_challenge"),
    ("Unexpected client data origin", "bad_origin"),
    ("Unexpected RP ID hash", "bad_rp_id"),
    ("User presence was required", "user_not_present"),
    ("User was not present", "user_not_present"),
    ("User verification is required", "user_not_verified"),
    ("Could not verify authentication signature", "bad_signature"),
    ("was not greater than current count", "counter_regression"),
    ("Unsupported credential public key alg", "unsupported_algorithm"),
    ("Unsupported attestation type", "unsupported_attestation"),
    ("Certificate chain could not be validated", "untrusted_attestation"),
    ("was not a known root certificate", "untrusted_attestation"),
    ("None attestation had unexpected attestation statement", "bad_attestation"),
    ("Attestation statement could not be verified", "bad_attestation"),
    ("id and raw_id were not equivalent", "malformed"),
    ("Unexpected credential type", "malformed"),
    ("Unexpected token_binding status", "malformed"),
    ("clientDataJSON was malformed", "malformed"),
    ("attestationObject was malformed", "malformed"),
    ("authenticatorData was malformed", "malformed"),
    ("malformed attestation type", "malformed"),
    ("credential from JSON data", "malformed"),
    ("Authenticator did not provide", "malformed"),
)
#: Then by exception type; the first match wins.
_LIBRARY_TYPES: Final[tuple[tuple[type[Exception], ErrorCode], ...]] = (
    (lib.InvalidJSONStructure, "malformed"),
    (lib.InvalidCBORData, "malformed"),
    (lib.InvalidAuthenticatorDataStructure, "malformed"),
    (lib.InvalidAttestationObjectStructure, "malformed"),
    (lib.InvalidBackupFlags, "malformed"),
    (lib.InvalidPublicKeyStructure, "malformed"),
    (lib.UnsupportedPublicKeyType, "unsupported_algorithm"),
    (lib.UnsupportedAlgorithm, "unsupported_algorithm"),
    (lib.UnsupportedEC2Curve, "unsupported_algorithm"),
    (lib.UnsupportedPublicKey, "unsupported_algorithm"),
    (lib.InvalidCertificateChain, "untrusted_attestation"),
    # Whatever else a registration fails on is inside an attestation statement format.
    (lib.InvalidRegistrationResponse, "bad_attestation"),
)


def _library_code(exc: Exception) -> ErrorCode:
    message = str(exc)
    for needle, code in _LIBRARY_MESSAGES:
        if needle in message:
            return code
    for cls, code in _LIBRARY_TYPES:
        if isinstance(exc, cls):
            return code
    return "invalid"


@contextmanager
def _library_errors() -> Iterator[None]:
    """Turn anything raised while verifying into a WebAuthnError.

    Malformed CBOR, COSE keys or certificates reach code that raises TypeError, KeyError,
    ValueError and friends, not only py_webauthn's exceptions; none may escape as a 500.
    """
    try:
        yield
    except WebAuthnError:
        raise
    except lib.WebAuthnException as exc:
        raise WebAuthnError(_library_code(exc), str(exc)) from exc
    except Exception as exc:
        raise WebAuthnError("malformed", f"{type(exc).__name__}: {exc}") from exc

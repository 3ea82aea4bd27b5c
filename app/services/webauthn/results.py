"""What a verified ceremony gives the caller to store: :class:`PasskeyRegistration`, the new
credential record (§7.1 step 27), and :class:`PasskeyAssertion`, the state after a sign-in
(§7.2 step 24).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.webauthn.attestation import AttestationTrust
from app.services.webauthn.envelope import _b64encode


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

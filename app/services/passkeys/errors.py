"""Refusals: every refused ceremony is a :class:`PasskeyError` with a stable ``code``, a message
safe to show, the precise ``reason`` its audit row records and the HTTP status the web layer
answers with; ``Ceremony`` names the three ceremonies (registration, enrolment, authentication).
"""

from __future__ import annotations

from typing import Any, Literal

from app.services.webauthn import WebAuthnError

#: ``registration`` adds a credential to a signed-in account; ``enrolment`` sets up the
#: first credential from an enrolment link; ``authentication`` signs in.
Ceremony = Literal["registration", "enrolment", "authentication"]

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

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        reason: str = "",
        status: int = 0,
        detail: str = "",
        credential_id: str | None = None,
        ceremony: Ceremony = "authentication",
    ) -> None:
        self.code = code
        self.message = message or _MESSAGES.get(code, "The passkey was refused.")
        self.reason = (reason or code)[:64]
        self.status = status or _STATUS.get(code, 401 if ceremony == "authentication" else 400)
        self.detail = detail[:300]
        self.credential_id = credential_id
        super().__init__(f"{self.reason}: {self.detail}" if self.detail else self.reason)

    def body(self, rp_id: str) -> dict[str, Any]:
        """The JSON a refusal is answered with: ``error`` and ``message``, and for a
        credential the server does not know, its id and the RP id the browser needs to
        tell the authenticator (``signalUnknownCredential``, WebAuthn L3 §5.1.10)."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.credential_id:
            body["credentialId"] = self.credential_id
            body["rpId"] = rp_id
        return body

    @classmethod
    def from_webauthn(cls, exc: WebAuthnError, ceremony: Ceremony) -> PasskeyError:
        return cls(exc.code, exc.message, detail=exc.detail, ceremony=ceremony)

"""Refusals: every failed ceremony is a :class:`WebAuthnError` with a stable ``ErrorCode`` (for
audit reasons and tests), a ``message`` safe to show the user and a ``detail`` for logs only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

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

"""WebAuthn ceremonies: a thin wrapper over py_webauthn that speaks Keystile's language.

Plain Python: no Flask request globals, no database, no environment. The caller keeps the
challenge server-side, bound to the session and the ceremony, single use and short-lived
(threat model C.11), looks the credential up with :func:`parse_credential_id` before
verifying, checks that a returned user handle belongs to the credential's owner (§7.2 step 6,
C.15), refuses a credential id that is already registered (§7.1 step 26, C.14) and flags a
credential whose verification fails with ``counter_regression`` (C.13).

Every refusal is a :class:`WebAuthnError` with a stable ``code`` and a ``message`` safe to show;
no other exception leaves this module for any input a client can send.

Modules, each importing only those above it: ``errors`` (``ErrorCode``, :class:`WebAuthnError`),
``limits`` (sizes, challenge length, timeout, algorithms), ``relying_party``
(:class:`RelyingParty`), ``envelope`` (reading the browser's JSON: :func:`parse_credential_id`,
:func:`parse_user_handle`), ``attestation`` (``AttestationTrust``), ``results``
(:class:`PasskeyRegistration`, :class:`PasskeyAssertion`), ``options``
(:func:`registration_options`, :func:`authentication_options`), ``library_errors``
(py_webauthn's exceptions as :class:`WebAuthnError`) and ``verification``
(:func:`verify_registration`, :func:`verify_authentication`). Import from this package, not from
the modules.

Spec references are to W3C Web Authentication Level 3: §7.1 "Registering a New Credential",
§7.2 "Verifying an Authentication Assertion".
"""

from webauthn.helpers.structs import AttestationFormat

from app.services.webauthn.attestation import AttestationTrust
from app.services.webauthn.envelope import parse_credential_id, parse_user_handle
from app.services.webauthn.errors import ErrorCode, WebAuthnError

# Private, but read as attributes of this package by tests/unit/services/test_webauthn.py.
from app.services.webauthn.library_errors import _LIBRARY_MESSAGES as _LIBRARY_MESSAGES
from app.services.webauthn.library_errors import _library_code as _library_code
from app.services.webauthn.limits import (
    CEREMONY_TIMEOUT_MS,
    CHALLENGE_BYTES,
    MAX_CREDENTIAL_ID_BYTES,
    MAX_RESPONSE_BYTES,
    SUPPORTED_ALGORITHMS,
)
from app.services.webauthn.options import (
    AuthenticatorKind,
    authentication_options,
    registration_options,
)
from app.services.webauthn.relying_party import RelyingParty
from app.services.webauthn.results import PasskeyAssertion, PasskeyRegistration
from app.services.webauthn.verification import verify_authentication, verify_registration

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

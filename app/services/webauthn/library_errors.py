"""The boundary with py_webauthn: :func:`_library_errors` turns anything raised while verifying
(py_webauthn's own exceptions, and what malformed CBOR, COSE keys or certificates raise) into a
:class:`WebAuthnError`, its code chosen by the library's message, then by the exception type.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from webauthn.helpers import exceptions as lib

from app.services.webauthn.errors import ErrorCode, WebAuthnError

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

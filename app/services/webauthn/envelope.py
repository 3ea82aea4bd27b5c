"""Reading the browser's JSON (``PublicKeyCredential.toJSON()``) before anything in it is
authenticated: the size limit first (threat model C.16), then a JSON object, ``id`` equal to
``rawId`` in strict, canonical base64url (§5.1), credential ids of 1-1023 bytes (§7.1 step 25)
and user handles of at most 64 bytes (§5.4.3). :func:`parse_credential_id` and
:func:`parse_user_handle` let the caller look a response up before verifying it; the private
helpers serve the verification module.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any

from webauthn.helpers.structs import AuthenticatorTransport

from app.services.webauthn.errors import ErrorCode, WebAuthnError
from app.services.webauthn.limits import (
    MAX_CREDENTIAL_ID_BYTES,
    MAX_RESPONSE_BYTES,
    MAX_USER_HANDLE_BYTES,
)


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

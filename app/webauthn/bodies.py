"""What the options endpoints take: a small JSON object, read the same way by the views and
by the sign-in edge (:mod:`app.edge.passkey`)."""

from __future__ import annotations

import json
from typing import Any

from app.services.passkeys import PasskeyError


def options_body(raw: bytes) -> dict[str, Any]:
    """The JSON object an options endpoint takes; an empty body means ``{}``."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise PasskeyError("bad_request", "The request is not a JSON object.")
    return data


def login_username(data: dict[str, Any]) -> str | None:
    """``{"username": ...}`` names the account whose security keys may answer; absent, the
    sign-in is discoverable (the button, or autofill)."""
    username = data.get("username")
    if username is not None and (not isinstance(username, str) or not username.strip()):
        raise PasskeyError("bad_request", "Enter your username.")
    return username

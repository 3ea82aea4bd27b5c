"""The part of RFC 8941 (Structured Field Values) that RFC 9440 needs: byte sequences.

An Item is a bare item followed by parameters (§3.1.2); RFC 9440 requires the bare item to be
a Byte Sequence (§3.3.5): base64 between colons. Parameters are parsed (§4.2.3.2) and ignored.
A List (§3.1) is members separated by ``OWS "," OWS``; inner lists are not byte sequences and
are refused.
"""

from __future__ import annotations

import re

from app.proxy.base import ProxyHeaderError
from app.proxy.decoding import b64decode_strict

#: §4.2.7: the content of a byte sequence may only use the base64 alphabet and "=".
_BYTE_SEQUENCE = re.compile(r":([A-Za-z0-9+/=]*):")
#: §3.1.2 parameter: ";" *SP key [ "=" bare-item ], bare items of §3.3 (integer, decimal,
#: string, token, byte sequence, boolean).
_PARAMETER = re.compile(
    r";[ ]*[a-z*][a-z0-9_.*-]*"
    r"(?:=(?:-?[0-9]{1,15}(?:\.[0-9]{1,3})?"
    r'|"(?:[ !#-\[\]-~]|\\["\\])*"'
    r"|[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*"
    r"|:[A-Za-z0-9+/=]*:"
    r"|\?[01]))?"
)
_OWS = " \t"


def _byte_sequence_item(text: str, pos: int) -> tuple[bytes, int]:
    """Parse one Item whose bare item is a Byte Sequence; return it and the end position."""
    match = _BYTE_SEQUENCE.match(text, pos)
    if match is None:
        raise ProxyHeaderError(
            "malformed", "The header must carry a byte sequence: base64 between colons."
        )
    data = b64decode_strict(match[1], padding_optional=True)
    pos = match.end()
    while (parameter := _PARAMETER.match(text, pos)) is not None:
        pos = parameter.end()
    return data, pos


def parse_byte_sequence_item(text: str) -> bytes:
    """Parse a field whose value is one Byte Sequence Item (RFC 8941 §4.2 with §4.2.3).

    Raises:
        ProxyHeaderError: ``malformed``; ``duplicate_header`` when a list follows the item,
            which is what a repeated header joined by the server looks like.
    """
    text = text.strip(" ")
    data, pos = _byte_sequence_item(text, 0)
    if pos != len(text):
        if text[pos:].lstrip(_OWS).startswith(","):
            raise ProxyHeaderError(
                "duplicate_header", "A client certificate header carries several values."
            )
        raise ProxyHeaderError("malformed", "The header has text after its byte sequence.")
    return data


def parse_byte_sequence_list(text: str, *, max_members: int) -> list[bytes]:
    """Parse a List whose members are Byte Sequence Items (RFC 8941 §4.2.1).

    Raises:
        ProxyHeaderError: ``malformed``, or ``too_large`` beyond ``max_members``.
    """
    text = text.strip(" ")
    members: list[bytes] = []
    pos = 0
    while pos < len(text):
        if len(members) == max_members:
            raise ProxyHeaderError("too_large", "Too many certificates were forwarded.")
        data, pos = _byte_sequence_item(text, pos)
        members.append(data)
        while pos < len(text) and text[pos] in _OWS:
            pos += 1
        if pos == len(text):
            break
        if text[pos] != ",":
            raise ProxyHeaderError("malformed", "The list's members must be separated by ','.")
        pos += 1
        while pos < len(text) and text[pos] in _OWS:
            pos += 1
        if pos == len(text):
            raise ProxyHeaderError("malformed", "The list ends with a ','.")
    return members

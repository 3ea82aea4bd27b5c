"""A tokenizer and parser for Envoy's ``x-forwarded-client-cert`` (XFCC) grammar.

Envoy's documentation (configuration/http/http_conn_man/headers, x-forwarded-client-cert):
the value is a comma-separated list of *elements*, one per proxy; an element is a
semicolon-separated list of ``key=value`` pairs; keys are case-insensitive; a value containing
``,``, ``;`` or ``=`` should be double-quoted, with ``"`` inside written as ``\\"``.

Splitting on ``,`` and ``;`` without honouring quotes lets a certificate whose subject contains
``;Cert=...`` inject a field; this parser never splits inside quotes. Inside quotes a backslash
escapes the next character (RFC 9110 §5.6.4 quoted-pair). Unquoted values may contain ``=``
(URL-encoded PEM from other producers keeps base64 padding) but never ``"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum, auto

from app.proxy.base import ProxyHeaderError

#: One token: a quoted string, a separator, or a run of anything else.
_TOKEN = re.compile(
    r'"(?P<quoted>[^"\\]*(?:\\.[^"\\]*)*)"|(?P<separator>[,;=])|(?P<bare>[^",;=]+)', re.DOTALL
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_OWS = " \t"


@dataclass(frozen=True)
class XfccElement:
    """The pairs one proxy added, keys lower-cased, in order."""

    pairs: tuple[tuple[str, str], ...]

    def unique(self, key: str) -> str | None:
        """The value of a key that may appear at most once (``Cert``, ``Chain``, ``Hash``...).

        Raises:
            ProxyHeaderError: ``malformed`` when the key appears twice.
        """
        values = [value for name, value in self.pairs if name == key]
        if len(values) > 1:
            raise ProxyHeaderError(
                "malformed", "The x-forwarded-client-cert element repeats a field."
            )
        return values[0] if values else None


def _malformed(reason: str) -> ProxyHeaderError:
    return ProxyHeaderError("malformed", f"The x-forwarded-client-cert header {reason}.")


class _State(Enum):
    KEY = auto()  # at the start of a pair
    EQUALS = auto()  # after a key
    VALUE = auto()  # after "="
    BARE_VALUE = auto()  # inside an unquoted value
    AFTER_QUOTED = auto()  # after a quoted value's closing quote


def _tokens(value: str) -> Iterator[tuple[str, str]]:
    """Yield ``(kind, text)``; kind is ``quoted`` (text unescaped), ``separator`` or ``bare``."""
    pos = 0
    while pos < len(value):
        match = _TOKEN.match(value, pos)
        if match is None:
            raise _malformed("has an unterminated quoted value")
        kind = match.lastgroup or ""
        text = match[kind]
        yield kind, _QUOTED_PAIR.sub(r"\1", text) if kind == "quoted" else text
        pos = match.end()


def parse_xfcc(value: str) -> list[XfccElement]:
    """Parse an XFCC header value into its elements, in order.

    Raises:
        ProxyHeaderError: ``malformed`` for anything outside the grammar, including an
            unterminated quote, an empty element and a trailing separator.
    """
    elements: list[XfccElement] = []
    pairs: list[tuple[str, str]] = []
    key = ""
    bare: list[str] = []
    state = _State.KEY
    for kind, text in _tokens(value):
        ends_value = kind == "separator" and text in (",", ";")
        if state is _State.KEY:
            if kind != "bare" or not _KEY.fullmatch(text.strip(_OWS)):
                raise _malformed("has an empty or invalid field name")
            key, state = text.strip(_OWS).lower(), _State.EQUALS
            continue
        if state is _State.EQUALS:
            if kind != "separator" or text != "=":
                raise _malformed("has a field without '='")
            state = _State.VALUE
            continue
        if state is _State.VALUE and kind == "quoted":
            pairs.append((key, text))
            state = _State.AFTER_QUOTED
            continue
        if state is _State.AFTER_QUOTED and not ends_value:
            if kind != "bare" or text.strip(_OWS):
                raise _malformed("has text after a quoted value")
            continue
        if state in (_State.VALUE, _State.BARE_VALUE) and not ends_value:
            if kind == "quoted":
                raise _malformed("has a quote inside an unquoted value")
            bare.append(text)
            state = _State.BARE_VALUE
            continue
        # A "," or ";" ends the value; "," also ends the element.
        if state is not _State.AFTER_QUOTED:
            pairs.append((key, "".join(bare).strip(_OWS)))
        bare = []
        if text == ",":
            elements.append(XfccElement(tuple(pairs)))
            pairs = []
        state = _State.KEY
    if state in (_State.KEY, _State.EQUALS):
        raise _malformed("ends in the middle of a field")
    if state is not _State.AFTER_QUOTED:
        pairs.append((key, "".join(bare).strip(_OWS)))
    elements.append(XfccElement(tuple(pairs)))
    return elements

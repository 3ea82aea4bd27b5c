"""The path a rule is matched against, normalised the way the issue's contract states.

A proxy hands Keystile the request target as the client sent it. Rules are written for the
path the upstream will serve, so the target is percent-decoded once (RFC 3986 §2.1), dot
segments are resolved (RFC 3986 §5.2.4) and empty segments (``//``) collapsed. What the
upstream might read differently from Keystile is refused rather than guessed at:
an encoded slash, backslash or dot (``%2F``, ``%5C``, ``%2E``: a server may or may not
decode them before it splits the path), anything still percent-encoded after one decoding
(double encoding), control characters, a backslash, bytes that are not UTF-8, and a ``..``
that climbs above the root.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

#: a longer path is refused (it also bounds the work of a rule's regular expression)
MAX_PATH_LENGTH = 4096

_ENCODED_SEPARATOR_OR_DOT = re.compile(r"%(2[fFeE]|5[cC])")
_STILL_ENCODED = re.compile(r"%[0-9a-fA-F]{2}")


class UnsafePath(ValueError):
    """A path that cannot be normalised safely; the gate denies it."""


def normalise_path(target: str) -> str:
    """The normalised path of a request target (its query and fragment are dropped).

    Raises:
        UnsafePath: the path cannot be normalised, or holds what the module refuses.
    """
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") or len(path) > MAX_PATH_LENGTH:
        raise UnsafePath("the path must start with / and be at most 4096 characters")
    if not path.isascii() or not path.isprintable() or "\\" in path:
        raise UnsafePath("the path holds a control character, a backslash or raw non-ASCII")
    if _ENCODED_SEPARATOR_OR_DOT.search(path):
        raise UnsafePath("the path holds an encoded slash, backslash or dot")
    try:
        decoded = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafePath("the path does not decode to UTF-8") from None
    if _STILL_ENCODED.search(decoded):
        raise UnsafePath("the path is encoded twice")
    if "\\" in decoded or not decoded.isprintable():
        raise UnsafePath("the path holds an encoded control character or backslash")
    return _resolve(decoded)


def _resolve(path: str) -> str:
    """RFC 3986 §5.2.4 on an absolute path, with empty segments dropped; a ``..`` above
    the root is refused (RFC 3986 would clamp it, a file server might not)."""
    kept: list[str] = []
    segments = path.split("/")[1:]
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            if not kept:
                raise UnsafePath("the path climbs above the root")
            kept.pop()
            continue
        kept.append(segment)
    trailing = segments[-1] in ("", ".", "..") and bool(kept)
    return "/" + "/".join(kept) + ("/" if trailing else "")

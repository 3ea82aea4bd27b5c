"""Where a sign-in may send the browser next."""

from __future__ import annotations

from urllib.parse import urlsplit

#: longest return path kept; anything longer is not a page of this site
MAX_LENGTH = 2000


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths: no scheme, no host, no backslash tricks.

    A return URL is whatever a link put in the query string, so nothing it holds may raise:
    ``urlsplit`` refuses some hosts with ``ValueError`` (a netloc that NFKC normalisation
    would change, such as ``evil.test\\uff0fapp`` with a fullwidth solidus, or an unclosed
    ``[`` of an IPv6 literal), and such a target is simply not a safe one. Only printable
    characters are kept (``str.isprintable``): WHATWG URL parsing drops tabs and newlines,
    which would turn ``/\\t/evil.test`` into a scheme-relative URL; a lone surrogate cannot
    be encoded into the ``Location`` header; a bidirectional override only disguises.
    """
    if not target or len(target) > MAX_LENGTH:
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or not target.isprintable():
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme or parts.netloc:
        return default
    return target

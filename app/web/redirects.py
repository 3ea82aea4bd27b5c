"""Where a sign-in may send the browser next.

A relative path on Keystile's own host, or, for the forward-auth gate, an absolute
``https`` URL on a host that an access rule names (the protected site the person came
from). Anything else falls back to the default: no scheme-relative ``//evil``, no
backslashes (browsers read ``/\\evil`` as ``//evil``, WHATWG URL §4.4), no user info
(``https://wiki.example.com@evil``), no control or non-ASCII characters (look-alikes such
as a fullwidth solidus), no other scheme. Never raises: a value :func:`urlsplit` cannot
split (``ValueError``) is as unsafe as any other.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from app.services.access import BadHost, request_host

MAX_LENGTH = 2000


def safe_next(
    target: str | None, default: str, *, external_host: Callable[[str], bool] | None = None
) -> str:
    """``target`` if it is a safe place to go after signing in, else ``default``.

    Args:
        external_host: which host names an absolute https URL may lead to (None: none).
    """
    if not target or len(target) > MAX_LENGTH:
        return default
    if "\\" in target or not target.isascii() or not target.isprintable() or " " in target:
        return default
    if target.startswith("/"):
        return default if target.startswith("//") else target
    if external_host is None or not target.startswith("https://"):
        return default
    try:
        parts = urlsplit(target)
    except ValueError:
        return default
    if parts.scheme != "https" or not parts.netloc or "@" in parts.netloc:
        return default
    try:
        host = request_host(parts.netloc)
    except BadHost:
        return default
    return target if external_host(host) else default

"""The request a proxy asks about, from the headers it sets on the check.

nginx ``auth_request`` sends ``X-Original-URL`` (the full URL) and ``X-Original-Method``;
Traefik ``forwardAuth``, Caddy ``forward_auth`` and Keystile's HAProxy action send
``X-Forwarded-Method``, ``-Proto``, ``-Host`` and ``-Uri``. Each must appear exactly once
and be well formed: the gate refuses to guess (a check it cannot read is denied). Only
headers from the trusted proxy are read at all (the caller checks the peer first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from werkzeug.datastructures import Headers

from app.services.access import BadHost, request_host

#: RFC 9110 §9.1: a method is a token; Keystile accepts upper-case letters and "-"
_METHOD = re.compile(r"[A-Z][A-Z-]{0,19}")
MAX_TARGET = 8192


class UnreadableCheck(ValueError):
    """The proxy's description of the request is missing, repeated or malformed."""


@dataclass(frozen=True)
class Original:
    """The client's request as the proxy received it."""

    method: str
    scheme: str  #: http | https
    host: str  #: as sent, port included
    target: str  #: path and query

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.target}"


def _one(headers: Headers, name: str) -> str:
    values = headers.getlist(name)
    if len(values) != 1:
        raise UnreadableCheck(f"{name} must appear exactly once")
    value = values[0]
    if not value or not value.isascii() or not value.isprintable() or " " in value:
        raise UnreadableCheck(f"{name} is empty or holds characters a URL cannot")
    return value


def _checked(method: str, scheme: str, host: str, target: str) -> Original:
    method = method.upper()
    if not _METHOD.fullmatch(method):
        raise UnreadableCheck("not an HTTP method")
    if scheme.lower() not in ("http", "https"):
        raise UnreadableCheck("the scheme must be http or https")
    try:
        request_host(host)
    except BadHost as exc:
        raise UnreadableCheck(f"the host is unreadable: {exc}") from None
    if not target.startswith("/") or len(target) > MAX_TARGET or "#" in target:
        raise UnreadableCheck("the request target must be an absolute path")
    return Original(method, scheme.lower(), host.lower(), target)


def from_auth_request(headers: Headers) -> Original:
    """nginx: ``X-Original-URL`` and ``X-Original-Method``.

    Raises:
        UnreadableCheck: a header is missing, repeated or malformed.
    """
    url = _one(headers, "X-Original-URL")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnreadableCheck("X-Original-URL is not a URL") from None
    if "@" in parts.netloc or parts.fragment:
        raise UnreadableCheck("X-Original-URL carries user info or a fragment")
    target = parts.path or "/"
    if parts.query or url.endswith("?"):
        target += "?" + parts.query
    return _checked(_one(headers, "X-Original-Method"), parts.scheme, parts.netloc, target)


def from_forward_auth(headers: Headers) -> Original:
    """Traefik, Caddy, HAProxy: ``X-Forwarded-Method``, ``-Proto``, ``-Host``, ``-Uri``.

    Raises:
        UnreadableCheck: a header is missing, repeated or malformed.
    """
    return _checked(
        _one(headers, "X-Forwarded-Method"),
        _one(headers, "X-Forwarded-Proto"),
        _one(headers, "X-Forwarded-Host"),
        _one(headers, "X-Forwarded-Uri"),
    )

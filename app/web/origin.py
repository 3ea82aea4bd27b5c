"""The Origin check on state-changing requests: defence in depth beside the CSRF token.

A browser names the page's origin in the ``Origin`` header of every ``POST`` (and of any
other unsafe method) it sends (Fetch standard, "append a request `Origin` header"), and says
where the request comes from in ``Sec-Fetch-Site`` (W3C Fetch Metadata); a page cannot set
either. A state-changing request is refused with a 403 before any view reads it (OWASP CSRF
Prevention Cheat Sheet, "verifying origin with standard headers" and "Fetch Metadata") when

- its ``Origin`` names an origin that is not Keystile's own (``origin`` or one of
  ``extra_origins``), or
- it names none (``Origin: null``, or no header) and ``Sec-Fetch-Site`` says another site
  (``cross-site`` or ``same-site``).

``Origin: null`` alone proves nothing: the Fetch standard has a browser send it for every
form a page posts under ``Referrer-Policy: no-referrer``, which Keystile's own pages set.
A request with neither header (an old browser, a command-line client) is left to the CSRF
token, which every such request needs anyway.

The refusal is logged, not audited: it names no account, and a hostile page can make its
visitors' browsers send any number of them.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from urllib.parse import urlsplit

from flask import request
from werkzeug.exceptions import Forbidden

from app.config import Settings
from app.web.context import settings

log = logging.getLogger(__name__)

#: RFC 9110 §9.2.1: the methods that are not safe
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
MESSAGE = (
    "This request came from another site, so it was refused. Open Keystile's own "
    "page and try again there."
)


class ForeignOrigin(Forbidden):
    """A state-changing request sent by a page of another origin."""

    description = MESSAGE


def serialize(origin: str) -> str:
    """An origin as browsers send it (RFC 6454 §6.2): ``scheme://host[:port]``, lower case,
    without the scheme's default port; ``""`` for anything that is not one."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in {"", "/"}:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown = "" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown}"


@lru_cache(maxsize=16)
def _allowed(origins: tuple[str, ...]) -> frozenset[str]:
    return frozenset(filter(None, map(serialize, origins)))


def allowed_origins(s: Settings) -> frozenset[str]:
    """The origins Keystile's own pages are served from."""
    return _allowed(s.webauthn_origins)


#: ``Sec-Fetch-Site`` values of a request another site's page made
_OTHER_SITE = frozenset({"cross-site", "same-site"})


def foreign_origin(method: str, sent: str | None, fetch_site: str | None, s: Settings) -> bool:
    """Whether a request of ``method`` carrying ``Origin: sent`` and ``Sec-Fetch-Site:
    fetch_site`` (None: no such header) came from a page that is not Keystile's."""
    if method not in UNSAFE_METHODS:
        return False
    if sent is not None and sent.strip() != "null":
        return serialize(sent) not in allowed_origins(s)
    return (fetch_site or "").strip().lower() in _OTHER_SITE


def refuse_foreign_origin() -> None:
    """before_request: :func:`foreign_origin` requests are a 403.

    Raises:
        ForeignOrigin: the request came from another origin.
    """
    sent = request.headers.get("Origin")
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if foreign_origin(request.method, sent, fetch_site, settings()):
        log.warning(
            "refused %s %s from origin %r (Sec-Fetch-Site %r)",
            request.method,
            request.path,
            (sent or "")[:100],
            (fetch_site or "")[:20],
        )
        raise ForeignOrigin()

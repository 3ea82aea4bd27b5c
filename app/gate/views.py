"""The forward-auth gate: two thin views a reverse proxy calls before every request to a
protected site.

``GET /api/authz/auth-request`` (nginx ``auth_request``): ``200`` allow, ``401`` with a
``Location`` (nginx's ``error_page 401`` turns it into a redirect), ``403`` deny.
``GET /api/authz/forward-auth`` (Traefik, Caddy, HAProxy): ``200``, a ``302`` (``303``
after a method other than GET or HEAD) for a browser navigation, ``401`` for anything
that does not ask for HTML (XHR, API clients), ``403`` deny.

Both answer only the trusted proxy (``KEYSTILE_TRUSTED_PROXIES`` by the raw socket peer,
and the shared secret when one is set); anyone else is refused with ``403`` and logged,
never answered as if the proxy's headers were merely absent.
"""

from __future__ import annotations

import enum
import logging
from urllib.parse import urlencode

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.gate import answer
from app.gate import original as requested
from app.gate.handoff import continue_url
from app.gate.original import Original, UnreadableCheck
from app.gate.who import identify
from app.models import utcnow
from app.services.access import Decision, Outcome
from app.web import client_cert
from app.web.client import raw_peer
from app.web.context import access_rules, assertion_keys, settings
from app.web.redirects import safe_next

log = logging.getLogger(__name__)
bp = Blueprint("gate", __name__, url_prefix="/api/authz")


class Style(enum.Enum):
    NGINX = "auth-request"  #: 401 + Location for every sign-in
    FORWARD = "forward-auth"  #: a redirect for browser navigations, else 401


@bp.get("/auth-request")
def auth_request() -> BaseResponse:
    return _check(Style.NGINX)


@bp.get("/forward-auth")
def forward_auth() -> BaseResponse:
    return _check(Style.FORWARD)


def _check(style: Style) -> BaseResponse:
    if not client_cert.from_trusted_proxy(request.environ, request.headers, settings()):
        log.warning("refused a forward-auth check from %s: not a trusted proxy", raw_peer())
        return answer.plain(403, "Forbidden: not a trusted proxy.")
    read = requested.from_auth_request if style is Style.NGINX else requested.from_forward_auth
    try:
        asked = read(request.headers)
    except UnreadableCheck as exc:
        log.info("denied an unreadable forward-auth check: %s", exc)
        return answer.denied()
    now = utcnow()
    decision, identity = answer.judge(
        access_rules(), asked, identify=lambda: identify(asked), now=now
    )
    if decision.allowed:
        return answer.allowed(
            decision, identity, asked, settings=settings(), keys=assertion_keys(), now=now
        )
    if decision.outcome is Outcome.DENY:
        return answer.denied()
    return sign_in_answer(style, decision, asked)


def sign_in_answer(style: Style, decision: Decision, asked: Original) -> BaseResponse:
    """The answer that sends the browser to sign in or step up (``decision`` is one of
    those), for this request (a Flask request context: its script root, its headers)."""
    location = _sign_in_url(decision, asked)
    if style is Style.FORWARD and _is_navigation():
        resp = answer.plain(302 if asked.method in ("GET", "HEAD") else 303, "")
    else:
        resp = answer.plain(401, "Sign in first.")
    resp.headers["Location"] = location
    return resp


def _sign_in_url(decision: Decision, asked: Original) -> str:
    """Where the browser goes: through :func:`handoff.continue_url` (sign in if need be,
    then back to the request's URL with a session on its host), or the step-up page first.
    The request's URL is carried only when it may be gone back to (https, on a host a rule
    names); otherwise the sign-in page leads to the account page."""
    back = safe_next(asked.url, "", external_host=access_rules().names_host)
    login = settings().origin.rstrip("/") + url_for("auth.login")
    if not back:
        return login
    if decision.outcome is Outcome.STEP_UP and decision.needed is not None:
        then = url_for("handoff.continue_to", next=back)
        return (
            login
            + "?"
            + urlencode({"reauth": "1", "need": decision.needed.name.lower(), "next": then})
        )
    return continue_url(back)


def _is_navigation() -> bool:
    """A browser loading a page: it asks for HTML by name (``*/*`` is not enough: curl and
    most API clients send it), and neither Fetch Metadata nor the XHR convention says
    otherwise."""
    if request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None and mode != "navigate":
        return False
    return any(
        value.lower() == "text/html" and quality > 0 for value, quality in request.accept_mimetypes
    )

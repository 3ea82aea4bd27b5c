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

from flask import Blueprint, Response, request, url_for

from app.gate import original as requested
from app.gate.handoff import continue_url
from app.gate.original import Original, UnreadableCheck
from app.gate.who import identify
from app.models import utcnow
from app.services import access, assertion, gate
from app.services.access import Decision, Outcome
from app.web import client_cert
from app.web.client import raw_peer
from app.web.context import access_rules, assertion_keys, settings
from app.web.redirects import safe_next

log = logging.getLogger(__name__)
bp = Blueprint("gate", __name__, url_prefix="/api/authz")


#: the signed assertion (:mod:`app.services.assertion`), sent on every 200, empty when off
ASSERTION_HEADER = "Remote-Assertion"


class Style(enum.Enum):
    NGINX = "auth-request"  #: 401 + Location for every sign-in
    FORWARD = "forward-auth"  #: a redirect for browser navigations, else 401


@bp.get("/auth-request")
def auth_request() -> Response:
    return _check(Style.NGINX)


@bp.get("/forward-auth")
def forward_auth() -> Response:
    return _check(Style.FORWARD)


def _check(style: Style) -> Response:
    if not client_cert.from_trusted_proxy(request.environ, request.headers, settings()):
        log.warning("refused a forward-auth check from %s: not a trusted proxy", raw_peer())
        return _plain(403, "Forbidden: not a trusted proxy.")
    read = requested.from_auth_request if style is Style.NGINX else requested.from_forward_auth
    try:
        asked = read(request.headers)
    except UnreadableCheck as exc:
        log.info("denied an unreadable forward-auth check: %s", exc)
        return _plain(403, "Forbidden.")
    now = utcnow()
    # The request is matched once; the rule found answers for nobody, then for the person.
    found = access.match(access_rules(), host=asked.host, target=asked.target, method=asked.method)
    decision = found.decide(None, now)
    identity = None
    # Who is asking matters only when the answer for nobody would be to sign in: a bypass
    # (public assets) or a deny costs no session look-up and no certificate check.
    if decision.outcome is Outcome.SIGN_IN:
        identity = identify(asked)
        if identity is not None:
            decision = found.decide(identity.subject, now)
    return _answer(style, decision, identity, asked)


def _answer(
    style: Style, decision: Decision, identity: gate.Identity | None, asked: Original
) -> Response:
    if decision.allowed:
        resp = _plain(200, "")
        known = None if decision.bypass else identity
        resp.headers.update(gate.identity_headers(known))
        resp.headers[ASSERTION_HEADER] = _assertion(known, asked)
        return resp
    if decision.outcome is Outcome.DENY:
        return _plain(403, "Forbidden.")
    location = _sign_in_url(decision, asked)
    if style is Style.FORWARD and _is_navigation():
        resp = _plain(302 if asked.method in ("GET", "HEAD") else 303, "")
    else:
        resp = _plain(401, "Sign in first.")
    resp.headers["Location"] = location
    return resp


def _assertion(identity: gate.Identity | None, asked: Original) -> str:
    """The signed assertion, when it is on and someone is known; else empty, so that a
    proxy copying the header always overwrites whatever a client sent."""
    s = settings()
    if identity is None or not s.gate_assertion:
        return ""
    return assertion.sign(
        assertion_keys(),
        identity,
        issuer=s.origin,
        audience=assertion.origin_of(asked.scheme, asked.host),
        now=utcnow(),
    )


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


def _plain(status: int, text: str) -> Response:
    resp = Response(text, status=status, mimetype="text/plain")
    resp.headers["Cache-Control"] = "no-store"
    return resp

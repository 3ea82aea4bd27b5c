"""Single sign-on to protected hosts (see :mod:`app.services.handoff`): two thin views.

``GET /gate/continue?next=URL`` on Keystile's host: where the gate sends a browser that
must sign in. Signed in already, it goes on to the protected host with a one-time code;
otherwise it signs in first and comes back here. A protected URL on Keystile's own host
needs no hand-off: the browser goes straight back.

``GET /.keystile/handoff?code=...`` on the protected host (the proxy routes that path to
Keystile): spends the code, sets that host's own ``__Host-`` cookie, goes on to the URL.

A password sign-in is a form whose answer redirects, through ``/gate/continue``, to the
protected host; browsers hold every redirect of a form submission to the page's
``form-action`` (CSP Level 3, §6.4.1), so Keystile's pages name the hosts the rules protect
there (:func:`allow_forms_to_protected_hosts`), https only.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.db import get_db
from app.models import utcnow
from app.services import handoff
from app.services.access import AccessRules, BadHost, request_host
from app.web import auth_state
from app.web.client import current_client
from app.web.context import access_rules, session_timeouts, settings
from app.web.redirects import safe_next
from app.web.security import CSP

log = logging.getLogger(__name__)
bp = Blueprint("handoff", __name__)

#: the protected host's own session cookie (host-only: RFC 6265bis §4.1.3.2)
GATE_COOKIE = "__Host-keystile-gate"
HANDOFF_PATH = "/.keystile/handoff"
_SELF_ONLY = "form-action 'self'"


@lru_cache(maxsize=4)
def _form_action(rules: AccessRules) -> str:
    """``form-action 'self'`` and every host a rule names, on any port, https only
    (``*.example.com`` as CSP's own wildcard host source, CSP Level 3 §2.3.1)."""
    hosts = sorted({pattern for rule in rules.rules for pattern in rule.hosts})
    return " ".join([_SELF_ONLY, *(f"https://{host}:*" for host in hosts)])


@bp.after_app_request
def allow_forms_to_protected_hosts(response: BaseResponse) -> BaseResponse:
    """Widen the page's ``form-action`` to the protected hosts, so that signing in with a
    password can end on the page the user asked for (see the module docstring)."""
    rules = access_rules()
    if not rules.rules or response.mimetype != "text/html":
        return response
    policy = response.headers.get("Content-Security-Policy", CSP)
    if _SELF_ONLY + ";" in policy + ";":
        response.headers["Content-Security-Policy"] = policy.replace(
            _SELF_ONLY, _form_action(rules), 1
        )
    return response


def continue_url(next_url: str) -> str:
    """Keystile's absolute ``/gate/continue`` URL back to ``next_url``."""
    return settings().origin.rstrip("/") + url_for("handoff.continue_to", next=next_url)


@bp.get("/gate/continue")
def continue_to() -> BaseResponse:
    target = safe_next(request.args.get("next"), "", external_host=access_rules().names_host)
    if not target:
        return redirect(url_for("account.index"), code=303)
    row = auth_state.current_session()
    if row is None:
        here = url_for("handoff.continue_to", next=target)
        return redirect(url_for("auth.login", next=here), code=303)
    if target.startswith("/"):
        return redirect(target, code=303)
    parts = urlsplit(target)
    host = request_host(parts.netloc)  # safe_next read it already
    if host == (urlsplit(settings().origin).hostname or ""):
        return redirect(target, code=303)
    db = get_db()
    code = handoff.issue(db, row, host=host, next_url=target, now=utcnow())
    db.commit()
    return redirect(f"https://{parts.netloc}{HANDOFF_PATH}?{urlencode({'code': code})}", code=303)


@bp.get(HANDOFF_PATH)
def redeem() -> BaseResponse:
    try:
        host = request_host(request.host)
    except BadHost:
        return _refused()
    redeemed = handoff.redeem(
        get_db(),
        request.args.get("code", ""),
        host=host,
        client=current_client(),
        now=utcnow(),
        timeouts=session_timeouts(),
    )
    if redeemed is None:
        log.info("refused a single sign-on code on %s", host)
        return _refused()
    back = safe_next(redeemed.next_url, "/", external_host=access_rules().names_host)
    resp = redirect(back, code=303)
    max_age = max(int((redeemed.expires_at - utcnow()).total_seconds()), 0)
    resp.set_cookie(
        GATE_COOKIE,
        redeemed.secret,
        max_age=max_age,
        secure=True,
        httponly=True,
        samesite="Lax",
        path="/",
    )
    return resp


def _refused() -> Response:
    resp = Response(
        "This sign-in link has expired or was already used. Go back to the site and try again.",
        status=400,
        mimetype="text/plain",
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp

"""Forward-auth checks at the edge: ``GET /api/authz/auth-request`` and ``/forward-auth``.

The gate is the hottest path Keystile has (every request to every protected site), so the
edge answers its checks beneath Flask, calling what the views call: the trusted-proxy test
(:func:`app.web.client_cert.from_trusted_proxy`), the proxy's description of the request
(:mod:`app.gate.original`), the decision and the answers that need no page
(:mod:`app.gate.answer`), the sign-in and step-up answers of :mod:`app.gate.views` (in a
request context of their own), and the certificate sign-in on the spot
(:func:`app.gate.who.certificate_identity`). The session is found by
:func:`app.services.sessions.peek_live` (or :func:`app.services.handoff.peek_live` behind
a protected host's cookie): one plain row, judged by the rule :func:`~app.services.sessions.resolve`
applies on Keystile's pages.

Flask answers, before the edge has written anything, a check from a peer that is not the
trusted proxy (refused and logged there), one it cannot read (denied and logged there), a
certificate session shown without its key (audited there), and a certificate header it
ignores or cannot read (audited there).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from app.edge.exchange import Exchange
from app.gate import answer, views, who
from app.gate.handoff import GATE_COOKIE
from app.gate.original import Original, UnreadableCheck, from_auth_request, from_forward_auth
from app.models import utcnow
from app.services import gate, handoff, sessions
from app.services.access import AccessRules, Outcome, request_host
from app.services.assertion import AssertionKeys
from app.web import client_cert
from app.web.client_cert import Presented


class _ToFlask(Exception):
    """Flask answers this check (it audits or logs what the edge leaves to it)."""


def auth_request(x: Exchange) -> Response | None:
    return _check(x, views.Style.NGINX, from_auth_request)


def forward_auth(x: Exchange) -> Response | None:
    return _check(x, views.Style.FORWARD, from_forward_auth)


def _check(x: Exchange, style: views.Style, read: Callable[[Headers], Original]) -> Response | None:
    s = x.edge.settings
    if not client_cert.from_trusted_proxy(x.environ, x.request.headers, s):
        return None
    try:
        asked = read(x.request.headers)
    except UnreadableCheck:
        return None
    app = x.edge.app
    rules: AccessRules = app.extensions["keystile.access_rules"]
    now = utcnow()
    try:
        decision, identity = answer.judge(
            rules, asked, identify=lambda: _identify(x, asked, now), now=now
        )
    except _ToFlask:
        return None
    if decision.allowed:
        keys: AssertionKeys = app.extensions["keystile.assertion_keys"]
        return x.finish(answer.allowed(decision, identity, asked, settings=s, keys=keys, now=now))
    if decision.outcome is Outcome.DENY:
        return x.finish(answer.denied())
    with app.request_context(x.environ):
        return x.finish(views.sign_in_answer(style, decision, asked))


def _identify(x: Exchange, asked: Original, now: datetime) -> gate.Identity | None:
    """:func:`app.gate.who.identify`'s answer: the session behind Keystile's cookie or the
    protected host's, else (for a client that is not a held browser) the certificate."""
    s = x.edge.settings
    cookies = x.request.cookies
    binding = client_cert.key_binding(
        x.environ, x.request.headers, s, gate=True, client=lambda: x.client
    )
    live = None
    try:
        if secret := x.auth_cookie:
            live = sessions.peek_live(
                x.conn,
                secret,
                now=now,
                timeouts=x.edge.timeouts,
                binding=binding,
                with_identity=True,
            )
        if live is None and (host_secret := cookies.get(GATE_COOKIE)):
            live = handoff.peek_live(
                x.conn,
                host_secret,
                host=request_host(asked.host),
                now=now,
                timeouts=x.edge.timeouts,
                binding=binding,
            )
    except sessions.KeyNotPresented:
        raise _ToFlask from None
    if live is not None:
        return gate.identity_of_session(live)
    if who.held_browser(cookies, x.session) or s.cert_login == "off":
        return None
    try:
        shown = client_cert.read(x.environ, x.request.headers, s)
    except (ValueError, ssl.SSLError):
        raise _ToFlask from None
    if shown is None:
        return None
    if not isinstance(shown, Presented):
        raise _ToFlask
    return who.certificate_identity(
        x.db,
        shown,
        s,
        x.edge.cert_policy.policy(),
        client=x.client,
        now=now,
        mailer=x.edge.mailer,
        reader=x.conn,
    )

"""``GET /api/session`` at the edge: who this browser's session cookie signs in.

The same answer as :func:`app.auth.views.api_session`, for every request without a query
string: 200 and the session, or 401 (and the cookie deleted when it names nothing live).
A certificate session shown without its key goes to Flask, which audits it.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from app.edge.exchange import Exchange
from app.models import utcnow
from app.services import sessions
from app.web import client_cert


def current(x: Exchange) -> Response | None:
    secret = x.auth_cookie
    binding = (
        client_cert.key_binding(
            x.environ, x.request.headers, x.edge.settings, gate=False, client=lambda: x.client
        )
        if secret
        else None
    )
    try:
        live = (
            sessions.peek(x.conn, secret, now=utcnow(), timeouts=x.edge.timeouts, binding=binding)
            if secret
            else None
        )
    except sessions.KeyNotPresented:
        return None  # Flask finds it signed out, and audits it once (sessions.keeps_key)
    if live is None:
        if secret:
            x.signed_out()
        return x.json(sessions.describe(None), 401)
    return x.json(live)

"""``GET /api/session`` at the edge: who this browser's session cookie signs in.

The same answer as :func:`app.auth.views.api_session`, for every request without a query
string: 200 and the session, or 401 (and the cookie deleted when it names nothing live).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from app.edge.exchange import Exchange
from app.models import utcnow
from app.services import sessions


def current(x: Exchange) -> Response:
    secret = x.auth_cookie
    live = sessions.peek(x.conn, secret, now=utcnow(), timeouts=x.edge.timeouts) if secret else None
    if live is None:
        if secret:
            x.signed_out()
        return x.json(sessions.describe(None), 401)
    return x.json(live)

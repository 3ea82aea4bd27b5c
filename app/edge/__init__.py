"""The sign-in edge: the requests of every sign-in, answered beneath Flask.

A passkey sign-in is three requests (options, verify, ``/api/session``), a certificate
sign-in two (``GET /login``, ``/api/session``); each cost the same through Flask's request
context, Flask-Login, Flask-WTF and Flask-Limiter's hooks (about 0.5 ms of server CPU on the
benchmark machines) before any sign-in work started, which alone was a third of the 4 ms a
passkey sign-in may cost (issue #4). The edge is WSGI middleware that answers the plain case
of those requests itself (:mod:`.passkey`, :mod:`.session_api`, :mod:`.certificate`), with
the same services, the same cookie formats, the same limits and the same headers; every
other case (a missing or stale CSRF token, a throttled client, a browser already signed in,
a query string, a body Flask would refuse, a certificate that is not a known pin) goes to
Flask unchanged, before the edge has read the body or written anything, and Flask answers
it as before. The functional suite runs every sign-in test through both.

Flask keeps the routes (``url_for``, the error pages, the fallbacks); the edge only ever
answers requests Flask would answer the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from flask import Flask, url_for
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.config import Settings
from app.edge.exchange import Exchange
from app.services.cert_auth import PolicySource
from app.services.notices import Mailer
from app.services.passkeys import PasskeyPolicy
from app.services.sessions import Timeouts
from app.services.throttle import Limit, Throttle
from app.web.security import MESSAGES, error_response, failure_status
from app.web.throttle import throttle_of, view_limit

log = logging.getLogger(__name__)

#: a handler answers, or returns None to hand the request to Flask
Handler = Callable[[Exchange], Response | None]
class Edge:
    """What every handler shares: the application's settings, services and extensions."""

    def __init__(self, app: Flask) -> None:
        from app.db import EXTENSION, engine_of
        from app.webauthn.views import POLICY

        self.app = app
        self.settings: Settings = app.extensions["keystile.settings"]
        self.csrf_secret = _csrf_secret_reader(app)
        self.sessionmaker: sessionmaker[Session] = app.extensions[EXTENSION]
        self.engine = engine_of(app)
        #: A plain connection's options. On PostgreSQL each statement of a one-statement
        #: request runs in autocommit, sparing a BEGIN and a COMMIT or ROLLBACK round trip
        #: (passkey bench: 14 % of the floor before, 19-20 % after); SQLite has no round
        #: trips, and switching its connection's isolation level and back costs more than
        #: the transaction (about 0.9 million instructions per passkey sign-in, callgrind).
        self.plain_options: dict[str, str] = (
            {"isolation_level": "AUTOCOMMIT"} if self.engine.dialect.name == "postgresql"
            else {})
        self.passkeys: PasskeyPolicy = app.extensions[POLICY]
        self.mailer: Mailer = app.extensions["keystile.mailer"]
        self.cert_policy: PolicySource = app.extensions["keystile.cert_policy"]
        with app.test_request_context():
            #: below the request's script root (``SCRIPT_NAME``)
            self.account_path = url_for("account.index")
        self.throttle: Throttle = throttle_of(app)
        s = self.settings
        self.timeouts = Timeouts(idle=timedelta(minutes=s.session_idle_minutes),
                                 absolute=timedelta(hours=s.session_absolute_hours))
        #: the views' own limits, counted alike
        self.challenge_limit: Limit = view_limit(app, "webauthn.login_options")
        self.passkey_login_limit: Limit = view_limit(app, "webauthn.login_verify")


def _csrf_secret_reader(app: Flask) -> Callable[[str], str | None]:
    """Flask-WTF's tokens (``generate_csrf``): the cookie session's secret, signed with the
    app's key. The reader gives the secret a token signs, or None if the signature is not
    the app's; its answers are kept per token (a page's token comes back with each of the
    page's requests, and the answer is a function of the token alone: no time limit)."""
    _require_flask_wtf_defaults(app)
    tokens = URLSafeTimedSerializer(str(app.config["SECRET_KEY"]), salt="wtf-csrf-token")

    @lru_cache(maxsize=4096)
    def csrf_secret(token: str) -> str | None:
        try:
            value = tokens.loads(token)
        except BadData:
            return None
        return value if isinstance(value, str) else None

    return csrf_secret


def _require_flask_wtf_defaults(app: Flask) -> None:
    """The edge checks CSRF tokens as Flask-WTF does with Keystile's settings: signed with
    ``SECRET_KEY``, the secret under ``csrf_token``, no time limit (the token lives as long as
    the cookie session). Anything else would make the two sides disagree: refuse to start.

    Raises:
        RuntimeError: a Flask-WTF setting the edge does not follow.
    """
    config = app.config
    if (config.get("WTF_CSRF_TIME_LIMIT") is not None
            or config.get("WTF_CSRF_SECRET_KEY") not in (None, config["SECRET_KEY"])
            or config.get("WTF_CSRF_FIELD_NAME", "csrf_token") != "csrf_token"):
        raise RuntimeError("the sign-in edge checks CSRF tokens with Flask-WTF's defaults "
                           "(no time limit, SECRET_KEY, csrf_token)")


class SignInEdge:
    """WSGI middleware in front of Flask's ``wsgi_app`` (see the module's docstring)."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        from app.edge import certificate, passkey, session_api

        self.edge = Edge(app)
        self.wsgi_app = wsgi_app
        self.routes: dict[tuple[str, str], Handler] = {
            ("POST", "/webauthn/login/options"): passkey.options,
            ("POST", "/webauthn/login/verify"): passkey.verify,
            ("GET", "/api/session"): session_api.current,
            ("GET", "/login"): certificate.auto_sign_in,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        handler = self.routes.get((environ.get("REQUEST_METHOD", ""),
                                   environ.get("PATH_INFO", "")))
        if handler is None or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        exchange = Exchange(self.edge, environ)
        failed = False
        try:
            response = handler(exchange)
        except HTTPException as exc:  # a body shorter than its Content-Length, say
            failed = True
            response = self._error(exchange, exc.code or 400)
        except Exception as exc:
            # As Flask's own handler of the unexpected: logged, a plain message, no trace.
            log.exception("unhandled error on %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            failed = True
            response = self._error(exchange, failure_status(exc))
        finally:
            exchange.close(failed=failed)
        if response is None:
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        return response(environ, start_response)

    def _error(self, exchange: Exchange, status: int) -> Response:
        """Flask's error answer (:func:`app.web.security.error_response`): JSON on the API
        paths, the error page elsewhere."""
        app = self.edge.app
        with app.request_context(exchange.environ):
            body, status = error_response(status, MESSAGES.get(status, MESSAGES[400]))
            response = app.make_response((body, status))
        return exchange.finish(response, failed=True)

"""The sign-in edge: the requests of every sign-in, routed beneath Flask.

A passkey sign-in is three requests (options, verify, ``/api/session``), a certificate
sign-in two (``GET /login``, ``/api/session``); through Flask each paid for its request
context and every extension's hooks before any sign-in work started, a large share of a
passkey sign-in's server time (see the README's performance section). The edge is WSGI
middleware that answers the plain case of those requests itself (:mod:`.passkey`,
:mod:`.session_api`, :mod:`.certificate`), and the forward-auth gate's checks, the
hottest path of all (:mod:`.gate`). It only routes and calls: every security
control it applies is the one the Flask views use, called the same way (the Origin check
:mod:`app.web.origin`, the CSRF check :mod:`app.web.csrf`, the session opened and its
cookie written by :mod:`app.web.auth_state`, a certificate read, judged and accepted by
:mod:`app.web.client_cert`, the headers of :func:`app.web.security.apply_security_headers`,
an unexpected error answered by the app's own error handler, which sends Flask's
``got_request_exception``). Every other case (a missing or stale CSRF token, a foreign
origin, a host outside ``TRUSTED_HOSTS``, a throttled client, a browser already signed in,
a query string, a body Flask would refuse, a certificate that is not a known pin, a
``before_request`` hook the edge does not know) goes to Flask unchanged, before the edge
has read the body or written anything, and Flask answers it as before.

``sign_in_edge = False`` (``KEYSTILE_SIGN_IN_EDGE=0``) leaves every request to Flask; the
functional suite runs the sign-in tests both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from flask import Flask, url_for
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import SecurityError
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host

from app.config import Settings
from app.edge.exchange import Exchange
from app.services.cert_auth import PolicySource
from app.services.notices import Mailer
from app.services.passkeys import PasskeyPolicy
from app.services.sessions import Timeouts
from app.services.throttle import Limit, Throttle
from app.web import origin
from app.web.throttle import throttle_of, view_limit

#: a handler answers, or returns None to hand the request to Flask
Handler = Callable[[Exchange], Response | None]


class Edge:
    """What every handler shares: the application's settings, services and extensions."""

    def __init__(self, app: Flask) -> None:
        from app.db import EXTENSION, engine_of
        from app.webauthn.views import POLICY

        self.app = app
        self.settings: Settings = app.extensions["keystile.settings"]
        self.sessionmaker: sessionmaker[Session] = app.extensions[EXTENSION]
        self.engine = engine_of(app)
        #: A plain connection's options. On PostgreSQL each statement of a one-statement
        #: request runs in autocommit, sparing a BEGIN and a COMMIT or ROLLBACK round trip
        #: to the server; SQLite has no round trips, and switching its connection's
        #: isolation level and back costs more than the transaction it would spare.
        self.plain_options: dict[str, str] = (
            {"isolation_level": "AUTOCOMMIT"} if self.engine.dialect.name == "postgresql" else {}
        )
        self.passkeys: PasskeyPolicy = app.extensions[POLICY]
        self.mailer: Mailer = app.extensions["keystile.mailer"]
        self.cert_policy: PolicySource = app.extensions["keystile.cert_policy"]
        with app.test_request_context():
            #: below the request's script root (``SCRIPT_NAME``)
            self.account_path = url_for("account.index")
        self.throttle: Throttle = throttle_of(app)
        s = self.settings
        self.timeouts = Timeouts(
            idle=timedelta(minutes=s.session_idle_minutes),
            absolute=timedelta(hours=s.session_absolute_hours),
        )
        #: the views' own limits, counted alike
        self.challenge_limit: Limit = view_limit(app, "webauthn.login_options")
        self.passkey_login_limit: Limit = view_limit(app, "webauthn.login_verify")


def _hook_scopes(endpoint: str) -> tuple[str | None, ...]:
    """``"a.b.view"`` -> ``(None, "a", "a.b")``: whose ``before_request`` hooks run for it."""
    parents = endpoint.split(".")[:-1]
    return (None, *(".".join(parents[:i]) for i in range(1, len(parents) + 1)))


def _covered_hooks() -> frozenset[Callable[[], Any]]:
    """The ``before_request`` hooks whose work the edge's handlers do by calling the same
    function, or that cannot apply to a request the edge answers. A hook not listed here
    (one a deployment or a later change adds) makes the edge hand every request to Flask,
    so that the hook runs."""
    from app.certs.views import auto_sign_in
    from app.web import csrf, origin, security
    from app.webauthn.views import _limit_body

    return frozenset(
        {
            origin.refuse_foreign_origin,  # SignInEdge calls origin.foreign_origin
            csrf.protect,  # the POST handlers call csrf.check_csrf
            auto_sign_in,  # GET /login: certificate.auto_sign_in calls the same acceptance
            security.refuse_nul_bytes,  # the edge takes no query string and no form body
            security.refuse_json_on_forms,  # the edge's POSTs are JSON paths
            _limit_body,  # Exchange.plain_body takes at most MAX_RESPONSE_BYTES
        }
    )


class SignInEdge:
    """WSGI middleware in front of Flask's ``wsgi_app`` (see the module's docstring)."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        from app.edge import certificate, gate, passkey, session_api

        self.edge = Edge(app)
        self.wsgi_app = wsgi_app
        self.covered_hooks = _covered_hooks()
        handlers: dict[tuple[str, str], Handler] = {
            ("POST", "/webauthn/login/options"): passkey.options,
            ("POST", "/webauthn/login/verify"): passkey.verify,
            ("GET", "/api/session"): session_api.current,
            ("GET", "/login"): certificate.auto_sign_in,
            ("GET", "/api/authz/auth-request"): gate.auth_request,
            ("GET", "/api/authz/forward-auth"): gate.forward_auth,
        }
        urls = app.url_map.bind("localhost")
        #: each route's handler, and the keys of ``before_request_funcs`` Flask would run
        #: for its view: the app's (None) and its blueprint's (and their parents')
        self.routes: dict[tuple[str, str], tuple[Handler, tuple[str | None, ...]]] = {
            (method, path): (handler, _hook_scopes(urls.match(path, method)[0]))
            for (method, path), handler in handlers.items()
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        route = self.routes.get((method, environ.get("PATH_INFO", "")))
        if route is None or not self._routable(environ, method, route[1]):
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        handler = route[0]
        exchange = Exchange(self.edge, environ)
        failed = False
        try:
            response = handler(exchange)
        except Exception as exc:  # noqa: BLE001 - as Flask: the app's handlers answer any error
            failed = True
            response = self._error(exchange, exc)
        finally:
            exchange.close(failed=failed)
        if response is None:
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        return response(environ, start_response)

    def _routable(
        self, environ: dict[str, Any], method: str, hook_scopes: tuple[str | None, ...]
    ) -> bool:
        """Whether the edge may answer: no query string, a host in Flask's
        ``TRUSTED_HOSTS``, no foreign ``Origin`` (:func:`app.web.origin.foreign_origin`)
        and no ``before_request`` hook it does not cover; else Flask answers (and refuses)."""
        if environ.get("QUERY_STRING"):
            return False
        app = self.edge.app
        hooks = app.before_request_funcs
        if any(
            hook not in self.covered_hooks for scope in hook_scopes for hook in hooks.get(scope, ())
        ):
            return False
        trusted_hosts = app.config["TRUSTED_HOSTS"]
        if trusted_hosts is not None:
            try:
                get_host(environ, trusted_hosts)
            except SecurityError:
                return False
        return not origin.foreign_origin(
            method,
            environ.get("HTTP_ORIGIN"),
            environ.get("HTTP_SEC_FETCH_SITE"),
            self.edge.settings,
        )

    def _error(self, exchange: Exchange, exc: Exception) -> Response:
        """The app's own answer to ``exc`` (:meth:`Flask.handle_user_exception`, so its
        error handlers run as for a view: logged, ``got_request_exception`` sent, a page or
        JSON with a plain message, never a trace)."""
        app = self.edge.app
        with app.request_context(exchange.environ):
            response = app.make_response(app.handle_user_exception(exc))
        return exchange.finish(response, failed=True)

"""One request at the sign-in edge: what it carries, and the answer being built.

Everything here reads the WSGI environ through Werkzeug's ``Request`` and reuses the pieces
Flask's side is made of, so that both sides agree to the byte: Flask's own cookie-session
interface (the signed ``__Host-keystile`` cookie holding the CSRF secret and the pending
WebAuthn challenges), Flask-WTF's token format, the views' throttle (its limits, keys and
headers), the same security headers and session cookie.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from flask.sessions import SecureCookieSession
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from werkzeug.wrappers import Request, Response

from app.services.audit import Client
from app.web import auth_state
from app.web.client import (
    address_of,
    raw_peer_of,
    request_id_of,
    throttle_key_of,
    user_agent_of,
)
from app.web.security import security_headers
from app.web.throttle import rate_limit_headers

if TYPE_CHECKING:
    from app.edge import Edge
    from app.services.throttle import Limit

#: Flask-WTF's defaults (``WTF_CSRF_HEADERS``, ``WTF_CSRF_FIELD_NAME``), which Keystile keeps
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
CSRF_SESSION_KEY = "csrf_token"
#: bodies Flask reads as forms (and checks for NUL bytes); the edge leaves them to Flask
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class Exchange:
    """A request the edge may answer. Nothing reaches the database or the response before
    the handler commits to answering (and :meth:`finish` builds the response), so until then
    it can hand the request to Flask untouched; throttle counts are the views' own
    (:mod:`app.web.throttle`), so Flask sees them as if it had made them."""

    def __init__(self, edge: Edge, environ: dict[str, Any]) -> None:
        self.edge = edge
        self.environ = environ
        self.request = Request(environ)
        self._session: SecureCookieSession | None = None
        self._db: Session | None = None
        self._conn: Connection | None = None
        self._client: Client | None = None
        self._body: bytes | None = None
        self._new_sign_in: str | None = None
        self._signed_out = False
        self._reported: Limit | None = None
        self._throttle_key: str | None = None

    # -- what the request carries -------------------------------------------------------

    @property
    def session(self) -> SecureCookieSession:
        """The browser's signed cookie session, as Flask reads it (empty if forged)."""
        if self._session is None:
            app = self.edge.app
            opened = app.session_interface.open_session(app, self.request)  # type: ignore[arg-type]
            self._session = opened if isinstance(opened, SecureCookieSession) else (
                SecureCookieSession())
        return self._session

    @property
    def auth_cookie(self) -> str:
        return self.request.cookies.get(auth_state.COOKIE, "")

    def csrf_ok(self) -> bool:
        """Flask-WTF's check (``flask_wtf.csrf.validate_csrf``): the header's token, signed
        with the app's key, names the secret this browser's cookie session holds."""
        sent = next((v for h in CSRF_HEADERS if (v := self.request.headers.get(h))), "")
        secret = self.session.get(CSRF_SESSION_KEY)
        if not sent or not isinstance(secret, str):
            return False
        signed = self.edge.csrf_secret(sent)
        return signed is not None and hmac.compare_digest(secret, signed)

    def plain_body(self, limit: int) -> bool:
        """Whether the body is one Flask would read as this edge does: no form, no chunked
        upload, nothing beyond ``limit`` bytes (Flask answers those itself)."""
        if self.request.mimetype in FORM_TYPES:
            return False
        length = self.request.content_length
        return length is not None and length <= limit

    def body(self) -> bytes:
        """The request body. Reading it commits the edge to answering: a handler decides
        whether to hand the request to Flask before it reads the body."""
        if self._body is None:
            self._body = self.request.get_data(cache=True)
        return self._body

    @property
    def client(self) -> Client:
        if self._client is None:
            trusted = self.edge.settings.trusted_proxies
            peer = raw_peer_of(self.environ)
            headers = self.request.headers
            self._client = Client(
                address=address_of(peer, headers.get("X-Forwarded-For", ""), trusted),
                user_agent=user_agent_of(headers.get("User-Agent", "")),
                request_id=request_id_of(headers.get("X-Request-Id", ""),
                                         from_trusted_proxy=trusted.trust(peer)),
            )
        return self._client

    @property
    def db(self) -> Session:
        if self._db is None:
            self._db = self.edge.sessionmaker()
        return self._db

    @property
    def conn(self) -> Connection:
        """A plain connection, for a request that loads no ORM objects (an ORM session
        costs about as much again as the query it runs) and writes at most one row (the
        options' challenge, the session's last-seen time); in autocommit where that spares
        round trips (:attr:`Edge.plain_options`)."""
        if self._conn is None:
            self._conn = self.edge.engine.connect()
            if self.edge.plain_options:
                self._conn.execution_options(**self.edge.plain_options)
        return self._conn

    # -- throttling, as the views count it (app.web.throttle) ---------------------------

    def _throttle_key_of_client(self) -> str:
        if self._throttle_key is None:
            self._throttle_key = throttle_key_of(self.client.address)
        return self._throttle_key

    def within(self, limit: Limit) -> bool:
        """Whether every window of ``limit`` has room for this request, nothing counted (a
        limit on failures: tested first, counted after)."""
        self._reported = limit
        return self.edge.throttle.test(limit, self._throttle_key_of_client()) is None

    def take(self, limit: Limit) -> bool:
        """Count this request in every window of ``limit``, shortest first, stopping at the
        first that is full (:meth:`app.services.throttle.Throttle.hit`). False: hand the
        request to Flask, which refuses it (counting the windows before the full one once
        more, erring towards the limit)."""
        self._reported = limit
        return self.edge.throttle.hit(limit, self._throttle_key_of_client()) is None

    def count(self, limit: Limit) -> None:
        """Count a request :meth:`within` let through (a refusal)."""
        self.edge.throttle.charge(limit, self._throttle_key_of_client())

    def _rate_limit_headers(self, response: Response) -> None:
        """The views' ``X-RateLimit-*`` and ``Retry-After`` for the shortest window."""
        if self._reported is None:
            return
        window = self.edge.throttle.window(self._reported, self._throttle_key_of_client())
        if window is not None:
            response.headers.extend(rate_limit_headers(window))

    # -- the answer ---------------------------------------------------------------------

    def signed_in(self, secret: str) -> None:
        """The response opens this new session; the anonymous cookie session (CSRF secret,
        ceremony state) starts afresh, as :func:`app.web.auth_state.sign_in` does."""
        self._new_sign_in = secret
        if self.session:
            self.session.clear()

    def signed_out(self) -> None:
        """The session cookie named nothing live: the response deletes it."""
        self._signed_out = True

    def json(self, payload: dict[str, Any] | str, status: int = 200) -> Response:
        # Flask's JSON: compact, ASCII, keys in order, a final newline (``jsonify``)
        body = payload if isinstance(payload, str) else json.dumps(
            payload, separators=(",", ":")) + "\n"
        return self.finish(Response(body, status=status, mimetype="application/json"))

    def finish(self, response: Response, *, failed: bool = False) -> Response:
        """What Flask's response hooks add: security headers, the limit's headers, the
        cookie session, the session cookie (set or deleted); a failed request changes no
        cookie."""
        response.headers.extend(security_headers(secure=self.request.is_secure,
                                                 cacheable=False))
        response.vary.add("Cookie")
        self._rate_limit_headers(response)
        if failed:
            return response
        if self._session is not None:
            app = self.edge.app
            app.session_interface.save_session(app, self._session, response)  # type: ignore[arg-type]
        if self._new_sign_in:
            auth_state.set_session_cookie(response, self._new_sign_in, self.edge.timeouts)
        elif self._signed_out:
            auth_state.clear_session_cookie(response)
        return response

    def close(self, *, failed: bool = False) -> None:
        if self._db is not None:
            if failed:
                self._db.rollback()
            self._db.close()
        if self._conn is not None:
            self._conn.close()  # rolls back whatever was not committed

"""One request at the sign-in edge: what it carries, and the answer being built.

Everything here reads the WSGI environ through Werkzeug's ``Request`` and calls what Flask's
side calls: Flask's own cookie-session interface (the signed ``__Host-keystile`` cookie
holding the CSRF secret and the pending WebAuthn challenges), :func:`app.web.csrf.check_csrf`,
:func:`app.web.auth_state.open_session` and ``write_session_cookie``,
:func:`app.web.security.apply_security_headers`, and the views' throttle (its limits, keys
and headers).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask.sessions import SecureCookieSession
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from werkzeug.wrappers import Request, Response

from app.models import utcnow
from app.services.audit import Client, Identified
from app.web import auth_state, csrf
from app.web.client import (
    address_of,
    raw_peer_of,
    request_id_of,
    throttle_key_of,
    user_agent_of,
)
from app.web.security import apply_security_headers
from app.web.throttle import rate_limit_headers

if TYPE_CHECKING:
    from app.edge import Edge
    from app.services.throttle import Limit

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
            self._session = (
                opened if isinstance(opened, SecureCookieSession) else (SecureCookieSession())
            )
        return self._session

    @property
    def auth_cookie(self) -> str:
        return self.request.cookies.get(auth_state.COOKIE, "")

    def csrf_ok(self) -> bool:
        """:func:`app.web.csrf.check_csrf` on the header's token (the edge takes no forms)."""
        return csrf.check_csrf(self.edge.app, csrf.sent_token(self.request.headers), self.session)

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
                request_id=request_id_of(
                    headers.get("X-Request-Id", ""), from_trusted_proxy=trusted.trust(peer)
                ),
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
        costs more than the query it runs) and writes at most one row (the
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

    def sign_in(
        self, *, user: Identified, credential: Identified, method: str, used_before: bool
    ) -> None:
        """Open the new session (:func:`app.web.auth_state.open_session`, as the views'
        ``auth_state.sign_in``); the response sets its cookie. A browser the edge signs in
        had no live session (a browser with a session cookie goes to Flask)."""
        opened = auth_state.open_session(
            self.db,
            user=user,
            credential=credential,
            method=method,
            client=self.client,
            now=utcnow(),
            timeouts=self.edge.timeouts,
            cookie_session=self.session,
            mailer=self.edge.mailer,
            credential_used_before=used_before,
        )
        self._new_sign_in = opened.secret

    def signed_out(self) -> None:
        """The session cookie named nothing live: the response deletes it."""
        self._signed_out = True

    def json(self, payload: dict[str, Any] | str, status: int = 200) -> Response:
        # Flask's JSON: compact, ASCII, keys in order, a final newline (``jsonify``)
        body = (
            payload
            if isinstance(payload, str)
            else json.dumps(payload, separators=(",", ":")) + "\n"
        )
        return self.finish(Response(body, status=status, mimetype="application/json"))

    def finish(self, response: Response, *, failed: bool = False) -> Response:
        """What Flask's response hooks add: security headers, the limit's headers, the
        cookie session, the session cookie (set or deleted); a failed request changes no
        cookie."""
        apply_security_headers(response, secure=self.request.is_secure, cacheable=False)
        response.vary.add("Cookie")
        self._rate_limit_headers(response)
        if failed:
            return response
        if self._session is not None:
            app = self.edge.app
            app.session_interface.save_session(app, self._session, response)  # type: ignore[arg-type]
        auth_state.write_session_cookie(
            response, opened=self._new_sign_in, ended=self._signed_out, timeouts=self.edge.timeouts
        )
        return response

    def close(self, *, failed: bool = False) -> None:
        if self._db is not None:
            if failed:
                self._db.rollback()
            self._db.close()
        if self._conn is not None:
            self._conn.close()  # rolls back whatever was not committed

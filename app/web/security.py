"""Response headers and error pages shared by every view.

CSP without inline script and ``frame-ancestors 'none'`` (threat model E.22), HSTS on https,
``nosniff``, a strict referrer policy; errors are pages (or JSON for API paths) with a
clear message and never a stack trace.
"""

from __future__ import annotations

import logging
import math

from flask import (
    Flask,
    Response,
    abort,
    got_request_exception,
    jsonify,
    render_template,
    request,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

MESSAGES = {
    400: "The request could not be understood. Please go back and try again.",
    401: "Please sign in first.",
    403: "You are not allowed to do that.",
    404: "There is nothing at this address.",
    405: "That action is not allowed here.",
    413: "What you sent is too large.",
    415: "This address takes a form from the page, not JSON. Please use the page.",
    429: "Too many attempts. Please wait a little and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
    503: "Sign-in is unavailable for a moment. Nothing was changed; please try again shortly.",
}

#: seconds a client is asked to wait (``Retry-After``, RFC 9110 §10.2.3) while the database
#: is unreachable: long enough not to hammer a recovering server, short enough for a restart
RETRY_AFTER = 5


#: the only places that take JSON bodies
JSON_PATHS = ("/webauthn/", "/api/")


def refuse_json_on_forms() -> None:
    """before_request: the HTML form views read form fields only; a JSON body sent to one
    is refused as what it is (415), not half-read as an empty form."""
    if (
        request.method in {"POST", "PUT", "PATCH", "DELETE"}
        and request.is_json
        and request.url_rule is not None
        and not request.path.startswith(JSON_PATHS)
    ):
        abort(415)


def refuse_nul_bytes() -> None:
    """before_request: a NUL in a query or form value is never meaningful here, and
    PostgreSQL cannot store it; answer 400 before any of it reaches a query."""
    values = list(request.args.values())
    if request.method in {"POST", "PUT", "PATCH"} and request.mimetype in {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }:
        values += list(request.form.values())
    if any("\x00" in v for v in values):
        abort(400)


#: set on every response unless the view set its own
_ALWAYS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
_HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
_NO_STORE = ("Cache-Control", "no-store")


def security_headers(*, secure: bool, cacheable: bool) -> list[tuple[str, str]]:
    """The headers every response carries (a view may set its own instead)."""
    wanted = list(_ALWAYS)
    if secure:
        wanted.append(_HSTS)
    if not cacheable:
        wanted.append(_NO_STORE)
    return wanted


def apply_security_headers(
    response: BaseResponse, *, secure: bool, cacheable: bool
) -> BaseResponse:
    """Add :func:`security_headers` that the response does not set itself: every answer,
    the Flask views' and the sign-in edge's, goes through here."""
    wanted = security_headers(secure=secure, cacheable=cacheable)
    # One pass over what the view set (a lookup per missing header costs an exception each).
    present = {name.lower() for name in response.headers.keys()}  # noqa: SIM118
    response.headers.extend([(k, v) for k, v in wanted if k.lower() not in present])
    return response


def add_security_headers(response: BaseResponse) -> BaseResponse:
    """after_request: :func:`apply_security_headers`; only static files may be cached."""
    return apply_security_headers(
        response, secure=request.is_secure, cacheable=request.endpoint == "static"
    )


def wants_json() -> bool:
    return request.path.startswith(JSON_PATHS) or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(
    status: int, message: str, code: str = "", *, heading: str = ""
) -> tuple[BaseResponse | str, int]:
    """The error answer: JSON on the API paths, else the error page (under ``heading``, or
    the status's own); a 503 carries ``Retry-After``."""
    body: BaseResponse | str
    if wants_json():
        body = jsonify(
            error=code or ("unavailable" if status == 503 else str(status)), message=message
        )
    elif status == 503:
        # The error page shows who is signed in, which needs the database that is down.
        body = Response(message, status=status, mimetype="text/plain")
    else:
        try:
            body = render_template("error.html", status=status, message=message, heading=heading)
        except Exception:
            # The error page itself failed (e.g. the body that caused a 413 is read again):
            # still answer plainly, never with a trace.
            log.exception("error page failed")
            body = Response(message, status=status, mimetype="text/plain")
    if status == 503:
        assert not isinstance(body, str)
        body.headers["Retry-After"] = str(RETRY_AFTER)
    return body, status


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used right now, so the request may
    simply be retried: the server refused or dropped the connection, the pool had none to
    give, or SQLite could not open or lock its file (SQLite also reports a missing table
    so: a schema that is not there is unavailable too). Programming errors and constraint
    violations are not (they stay 500s)."""
    return isinstance(exc, sa_exc.OperationalError | sa_exc.TimeoutError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )


def failure_status(exc: BaseException) -> int:
    """The status of an answer to a request that raised ``exc``: 503 while the database is
    unavailable (the transaction was rolled back: nothing was written, and the client may
    retry), 500 for anything else. Flask's handler and the sign-in edge both use it."""
    if database_unavailable(exc):
        log.warning("database unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
        return 503
    return 500


def throttled_wait() -> int:
    """Seconds until the limit that refused this request has room again (0: not known).

    A hit stops at the first full window, so a longer window of the same setting
    (``10/minute;60/hour``) may still refuse after this: the page says "at least".
    """
    from app.web.throttle import refusal_wait

    return refusal_wait()


def _throttled_message(wait: int) -> str:
    """How long to wait, in words."""
    if wait <= 0:
        return MESSAGES[429]
    when = "about a minute" if wait < 90 else f"about {math.ceil(wait / 60)} minutes"
    return f"Too many attempts. Please wait at least {when} and try again."


def register_error_handlers(app: Flask) -> None:
    from app.web.origin import ForeignOrigin

    @app.errorhandler(ForeignOrigin)
    def foreign_origin(exc: ForeignOrigin) -> tuple[BaseResponse | str, int]:
        return error_response(403, exc.description or MESSAGES[403], "origin")

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[BaseResponse | str, int]:
        return error_response(
            400,
            "Your form expired or came from elsewhere. Reload the page and try again.",
            "csrf",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[BaseResponse | str, int] | BaseResponse:
        status = exc.code or 500
        if status == 429:
            wait = throttled_wait()
            body, status = error_response(429, _throttled_message(wait), "throttled")
            resp = app.make_response((body, status))
            if wait > 0:
                resp.headers["Retry-After"] = str(wait)
            return resp
        return error_response(status, MESSAGES.get(status, exc.description or "Error."))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[BaseResponse | str, int]:
        status = failure_status(exc)
        if status == 500:
            log.exception("unhandled error on %s %s", request.method, request.path)
        # Flask sends the signal error reporting listens to only for an exception no
        # handler takes, and this handler takes them all: send it here.
        got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=exc)
        _roll_back()
        return error_response(status, MESSAGES[status])


def _roll_back() -> None:
    """End the request's transaction now: the after-request hooks that still run must not
    write through it, and nothing of a failed request is kept."""
    from flask import g

    db = g.get("db")
    if db is not None:
        try:
            db.rollback()
        except sa_exc.SQLAlchemyError:  # the connection is gone: nothing was committed
            log.warning("rollback after a failed request failed", exc_info=True)

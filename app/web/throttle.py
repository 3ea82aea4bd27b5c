"""Throttling for the views: the :func:`limited` decorator, explicit checks, the 429 answer
and the ``X-RateLimit-*`` headers, over :class:`app.services.throttle.Throttle`.

A refusal is ``abort(429)``: :func:`app.web.security.register_error_handlers` answers it
with the page (or JSON) that says how long to wait (:func:`refusal_wait`), and
:func:`add_headers` adds ``Retry-After`` and the window's ``X-RateLimit-*`` headers. Each
refusal is audited once per limit, key and window (``auth:throttled``). The sign-in edge
counts through the same service and writes its headers with :func:`rate_limit_headers`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Flask, abort, current_app, g, make_response, request
from werkzeug.wrappers import Response as BaseResponse

from app.config import Settings
from app.db import get_db
from app.services.audit import SYSTEM, Event, record
from app.services.throttle import Breach, Limit, Throttle, Window
from app.web.client import current_client, throttle_key

log = logging.getLogger(__name__)

EXTENSION = "keystile.throttle"
F = TypeVar("F", bound=Callable[..., Any])
#: a view's limit from the settings
Setting = Callable[[Settings], str]


def init_app(app: Flask, settings: Settings) -> Throttle:
    """The app's throttle (Redis when ``KEYSTILE_REDIS_URL`` is set, else this process's
    memory) and the hook that writes the headers."""
    throttle = Throttle(
        settings.redis_url,
        on_storage_change=functools.partial(_audit_storage_change, app),
        prefix=settings.redis_prefix,
    )
    app.extensions[EXTENSION] = throttle
    app.after_request(add_headers)
    return throttle


def throttle_of(app: Flask) -> Throttle:
    return cast(Throttle, app.extensions[EXTENSION])


def storage_healthy(app: Flask | None = None) -> bool:
    """For health checks: whether throttle counts go to the configured storage (False while
    Redis is down and this process counts on its own; see docs/deployment.md)."""
    return throttle_of(app or current_app).healthy()


def _audit_storage_change(app: Flask, healthy: bool, detail: str) -> None:
    from app.db import EXTENSION as DB

    db = app.extensions[DB]()
    try:
        record(
            db,
            Event.THROTTLE_STORAGE,
            client=SYSTEM,
            success=healthy,
            reason=None if healthy else "storage_unavailable",
            details={"detail": detail[:200]},
        )
        db.commit()
    finally:
        db.close()


# -- for the views ---------------------------------------------------------------------


def limit(name: str, setting: str) -> Limit:
    """This view's limit ``name`` (keyed as ``<endpoint>:<name>``, the keys the sign-in edge
    uses for the same views)."""
    return Limit.of(f"{request.endpoint}:{name}", setting)


def check(limit: Limit, key: str, *, audit_as: str | None) -> None:
    """Refuse (429) if a window of ``limit`` is full for ``key``; count nothing."""
    breach, window = _throttle().standing(limit, key)
    _reported(limit, key, window)
    if breach is not None:
        refuse(breach, audit_as=audit_as)


def take(limit: Limit, key: str, *, audit_as: str | None) -> None:
    """Count this request, or refuse it (429) if a window of ``limit`` is full."""
    breach = _throttle().hit(limit, key)
    _reported(limit, key)
    if breach is not None:
        refuse(breach, audit_as=audit_as)


def charge(limit: Limit, key: str) -> None:
    """Count a failure that :func:`check` let through."""
    _throttle().charge(limit, key)
    g.pop("throttle_window", None)  # the headers read the window as the charge left it


def view_limit(app: Flask, endpoint: str) -> Limit:
    """The limit a view's :func:`limited` puts on it, as the view counts it: for the
    sign-in edge, which answers some of that view's requests and counts them alike."""
    view: Any = app.view_functions[endpoint]
    name, setting = view.keystile_limit
    return Limit.of(f"{endpoint}:{name}", setting(app.extensions["keystile.settings"]))


def limited(
    name: str,
    setting: Setting,
    *,
    failures_only: bool = False,
    audit_as: str | None = None,
    methods: frozenset[str] | None = None,
) -> Callable[[F], F]:
    """A per-address limit on a view.

    Args:
        name: the limit's name within the view.
        setting: the limit, from the settings.
        failures_only: count only answers other than 200 (and views that raised); the
            limit is checked before the view runs.
        audit_as: the method of the ``auth:throttled`` row a refusal writes; None: no row.
        methods: the HTTP methods limited (default: all).
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if methods is not None and request.method not in methods:
                return view(*args, **kwargs)
            this = limit(name, setting(_settings()))
            key = throttle_key()
            if not failures_only:
                take(this, key, audit_as=audit_as)
                return view(*args, **kwargs)
            check(this, key, audit_as=audit_as)
            try:
                response = make_response(view(*args, **kwargs))
            except Exception:
                charge(this, key)  # the error page that follows is a failure too
                raise
            if response.status_code != 200:
                charge(this, key)
            return response

        wrapped.keystile_limit = (name, setting)  # type: ignore[attr-defined]  # view_limit
        return cast(F, wrapped)

    return decorate


def refuse(breach: Breach, *, audit_as: str | None) -> None:
    """Answer 429, audited once per limit, key and window."""
    g.throttle_breach = breach
    if audit_as is not None and _throttle().first_refusal_in_window(breach):
        db = get_db()
        record(
            db,
            Event.THROTTLED,
            client=current_client(),
            success=False,
            method=audit_as,
            reason="throttled",
            details={
                "limit": str(breach.window.item),
                "key": f"{breach.key}/{breach.limit.scope}"[:100],
            },
        )
        db.commit()
    abort(429)


def refusal_wait() -> int:
    """Seconds until the limit that refused this request has room (0: not known)."""
    breach: Breach | None = g.get("throttle_breach")
    return breach.wait if breach is not None else 0


def add_headers(response: BaseResponse) -> BaseResponse:
    """after_request: the headers of the window that refused this request, or else of the
    shortest window of the last limit it was counted against (as its check read it, when
    nothing was counted since)."""
    breach: Breach | None = g.get("throttle_breach")
    window: Window | None = breach.window if breach is not None else g.get("throttle_window")
    if window is None and (reported := g.get("throttle_reported")) is not None:
        try:
            window = _throttle().window(*reported)
        except Exception:  # headers are advice: never a failure of their own
            log.warning("could not read the throttle's window", exc_info=True)
    if window is not None:
        for name, value in rate_limit_headers(window):
            response.headers[name] = value
    return response


def rate_limit_headers(window: Window) -> list[tuple[str, str]]:
    """``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (when the window has room again,
    seconds since the epoch) and ``Retry-After`` (RFC 9110 §10.2.3: seconds from now)."""
    reset_at = int(window.reset_at + 1)
    return [
        ("X-RateLimit-Limit", str(window.item.amount)),
        ("X-RateLimit-Remaining", str(window.remaining)),
        ("X-RateLimit-Reset", str(reset_at)),
        ("Retry-After", str(max(0, int(reset_at - time.time())))),
    ]


def _reported(limit: Limit, key: str, window: Window | None = None) -> None:
    g.throttle_reported = (limit, key)
    g.throttle_window = window


def _throttle() -> Throttle:
    return throttle_of(current_app)


def _settings() -> Settings:
    return cast(Settings, current_app.extensions["keystile.settings"])

"""Flask-Limiter's hooks, run only where a limit is.

Every Keystile limit is a per-view decorator (``@limiter.limit``), and a decorated view checks
its own limits when it is called. Flask-Limiter also registers three application-wide hooks
for default and blueprint limits, which Keystile does not use: a before-request check that
resolves "no limits" for every request (about a quarter of a trivial request's time), the
after-request hook that writes the ``X-RateLimit-*`` and ``Retry-After`` headers, and a
teardown that resets its per-request state. The check is dropped; the other two run only on
requests where a limit was evaluated, so throttled views keep their headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.globals import request_ctx
from flask_limiter import Limiter, RequestLimit

from app.db import get_db
from app.services.audit import Event, record
from app.web.client import current_client

#: where Flask-Limiter keeps its per-request state (``Limiter.context``)
_STATE = "_limiter_request_context"


def scope_to_limited_views(app: Flask, limiter: Limiter) -> None:
    """Call after ``limiter.init_app(app)``.

    Raises:
        RuntimeError: Flask-Limiter no longer registers the hooks this expects (an upgrade
            changed its internals); failing at start-up beats silently unthrottled views.
    """
    manager = limiter.limit_manager
    if manager.default_limits or manager.application_limits or manager._blueprint_limits:
        raise RuntimeError("default, application or blueprint limits need Flask-Limiter's "
                           "global check")
    check = limiter._check_request_limit
    inject = getattr(Limiter, "_Limiter__inject_headers", None)
    release = getattr(limiter, "_Limiter__release_context", None)
    before = app.before_request_funcs.setdefault(None, [])
    after = app.after_request_funcs.setdefault(None, [])
    teardown = app.teardown_request_funcs.setdefault(None, [])
    found = [
        _replace(before, lambda f: f == check, None),
        _replace(after, lambda f: getattr(f, "func", None) is inject, _when_limited),
        _replace(teardown, lambda f: f == release, _when_limited),
    ]
    if not all(found):
        raise RuntimeError("Flask-Limiter's request hooks were not where expected")
    with app.test_request_context():
        limiter.context  # noqa: B018 - creates the per-request state the hooks look for
        if not hasattr(request_ctx._get_current_object(), _STATE):  # type: ignore[attr-defined]
            raise RuntimeError("Flask-Limiter keeps its request state elsewhere now")


def audit_breach(limiter: Limiter, limit: RequestLimit, *, method: str) -> None:
    """``on_breach``: one ``auth:throttled`` row per limit and key per window.

    Flask-Limiter calls this for every refused request; a flood of them must not become a
    flood of audit rows (the limits exist to keep tables from filling up). The limiter's own
    storage, shared by every instance when Redis is configured, remembers which breaches
    were written.
    """
    marker = f"keystile/audited/{limit.key}"
    if limiter.storage.incr(marker, limit.limit.get_expiry()) != 1:
        return
    db = get_db()
    record(db, Event.THROTTLED, client=current_client(), success=False, method=method,
           reason="throttled", details={"limit": str(limit.limit), "key": limit.key[:100]})
    db.commit()


def _replace(hooks: list[Any], match: Callable[[Any], bool],
             wrap: Callable[[Any], Any] | None) -> bool:
    for i, hook in enumerate(hooks):
        if match(hook):
            if wrap is None:
                del hooks[i]
            else:
                hooks[i] = wrap(hook)
            return True
    return False


def _when_limited(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def scoped(arg: Any) -> Any:
        if hasattr(request_ctx._get_current_object(), _STATE):  # type: ignore[attr-defined]
            return hook(arg)
        return arg

    return scoped

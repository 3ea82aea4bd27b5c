"""The password sign-in's way through the hash budget (``app.services.hash_budget``).

A sign-in that finds no slot is answered at once with 429 and ``Retry-After``, on the error
page (or JSON) every refusal uses, without reading the account or hashing anything. A 429,
not a 503: Keystile is up and answering, it declines this password's hashing for now, as
the throttle declines a client's excess; a flood of refusals then reads as what it is in
the proxy's and the load balancer's error rates (no 5xx), and a person's next attempt, a
second later, is welcome. One
``auth:throttled`` audit row (reason ``busy``) is written per address per window, not one
per refused request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, make_response
from werkzeug.wrappers import Response as BaseResponse

from app.db import get_db
from app.models import normalize_username
from app.services.audit import Event, record
from app.services.hash_budget import NoHashSlot
from app.services.throttle import Limit
from app.web.client import current_client, throttle_key
from app.web.context import hash_budget
from app.web.security import error_response
from app.web.throttle import throttle_of

#: seconds a refused client is asked to wait; slots turn over in tens of milliseconds
RETRY_AFTER = 1
#: one audit row per refused address per minute, marked where the throttle keeps its counts
#: (shared by every instance on Redis), as the throttle's own refusals are
AUDITED = Limit.of("auth.login_post:hash-budget", "1/minute")
MESSAGE = (
    "Sign-in by password is very busy right now. Please try again in a moment; "
    "a passkey or a certificate signs in at once."
)


@contextmanager
def password_slot(username: str, *, priority: bool = False) -> Iterator[None]:
    """Hold a verification slot for this request's address and the account it names;
    ``priority`` for a client with a better claim to it (a browser that signed in to this
    account before), served before the others that wait.

    Raises:
        NoHashSlot: see :meth:`app.services.hash_budget.HashBudget.slot`.
    """
    with hash_budget().slot(
        address=throttle_key(), account=normalize_username(username)[:256], priority=priority
    ):
        yield


def refused(refusal: NoHashSlot, *, method: str = "password") -> BaseResponse:
    """429 with ``Retry-After``; audited once per address per window."""
    key = throttle_key()
    if throttle_of(current_app).first_refusal(AUDITED, key):
        db = get_db()
        record(
            db,
            Event.THROTTLED,
            client=current_client(),
            success=False,
            method=method,
            reason="busy",
            details={"limit": "hash budget", "key": key[:100], "why": refusal.reason},
        )
        db.commit()
    response = make_response(error_response(429, MESSAGE, "busy", heading="Busy"))
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response

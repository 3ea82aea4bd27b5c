"""The gate's decision on one check and the answers that need no page: one implementation
for the Flask views (:mod:`app.gate.views`) and the sign-in edge (:mod:`app.edge.gate`).

The request is matched against the rules once; the rule found answers for nobody first,
and only when that answer would be "sign in" is the person looked up (a bypass or a deny
costs no session look-up and no certificate check). An allowed check carries the six
``Remote-*`` headers (empty on a bypass rule, so a proxy copying them always overwrites
what a client sent) and, when it is on, the signed assertion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from werkzeug.wrappers import Response

from app.config import Settings
from app.gate.original import Original
from app.services import access, assertion, gate
from app.services.access import AccessRules, Decision, Outcome
from app.services.assertion import AssertionKeys

#: the signed assertion (:mod:`app.services.assertion`), sent on every 200, empty when off
ASSERTION_HEADER = "Remote-Assertion"


def judge(
    rules: AccessRules,
    asked: Original,
    *,
    identify: Callable[[], gate.Identity | None],
    now: datetime,
) -> tuple[Decision, gate.Identity | None]:
    """The decision on ``asked``, and who it was made for (None: nobody, or not looked up)."""
    found = access.match(rules, host=asked.host, target=asked.target, method=asked.method)
    decision = found.decide(None, now)
    if decision.outcome is not Outcome.SIGN_IN:
        return decision, None
    identity = identify()
    if identity is None:
        return decision, None
    return found.decide(identity.subject, now), identity


def allowed(
    decision: Decision,
    identity: gate.Identity | None,
    asked: Original,
    *,
    settings: Settings,
    keys: AssertionKeys,
    now: datetime,
) -> Response:
    """``200`` with the identity headers (empty on a bypass rule) and the assertion."""
    known = None if decision.bypass else identity
    signed = (
        ""
        if known is None or not settings.gate_assertion
        else assertion.sign(
            keys,
            known,
            issuer=settings.origin,
            audience=assertion.origin_of(asked.scheme, asked.host),
            now=now,
        )
    )
    resp = plain(200, "")
    # Added, not set: a new response carries none of them yet.
    resp.headers.extend({**gate.identity_headers(known), ASSERTION_HEADER: signed})
    return resp


def denied() -> Response:
    return plain(403, "Forbidden.")


def plain(status: int, text: str) -> Response:
    resp = Response(text, status=status, mimetype="text/plain")
    resp.headers["Cache-Control"] = "no-store"
    return resp

"""Passkey sign-in at the edge: ``POST /webauthn/login/options`` and ``/login/verify``.

The same answers as :func:`app.webauthn.views.login_options` and ``login_verify`` for a
browser that is not signed in and sends a valid CSRF token from under its limits; every
other request goes to those views.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from app.edge.exchange import Exchange
from app.models import utcnow
from app.services import passkeys
from app.services.passkeys import PasskeyError
from app.services.webauthn import MAX_RESPONSE_BYTES
from app.webauthn import bodies, pending

#: an options request is ``{}`` or ``{"username": ...}``; anything bigger is Flask's to refuse
MAX_OPTIONS_BYTES = 4096


def options(x: Exchange) -> Response | None:
    """``{}`` (discoverable, autofill) or ``{"username": ...}`` -> request options."""
    if not (
        x.plain_body(MAX_OPTIONS_BYTES) and x.csrf_ok() and x.take(x.edge.challenge_limit)
    ):  # every options request counts
        return None
    try:
        username = bodies.login_username(bodies.options_body(x.body()))
        challenge = (
            passkeys.begin_discoverable_authentication(x.conn, x.edge.passkeys, now=utcnow())
            if username is None
            else passkeys.begin_authentication(
                x.db, x.edge.passkeys, username=username, now=utcnow()
            )
        )
    except PasskeyError as exc:
        return x.json(exc.body(x.edge.passkeys.rp.id), exc.status)
    pending.remember(x.session, "authentication", challenge)
    return x.json(challenge.options_json)


def verify(x: Exchange) -> Response | None:
    """``toJSON()`` of the assertion -> a new session; only refusals count to the limit."""
    limit = x.edge.passkey_login_limit
    if x.auth_cookie or not (x.plain_body(MAX_RESPONSE_BYTES) and x.csrf_ok() and x.within(limit)):
        return None  # a signed-in browser's session ends in Flask's sign-in
    try:
        body = x.body()
        result = passkeys.finish_authentication(
            x.db,
            x.edge.passkeys,
            secret=pending.take(x.session, "authentication", body),
            body=body,
            client=x.client,
            now=utcnow(),
            mailer=x.edge.mailer,
        )
        x.sign_in(
            user=result.user,
            credential=result.credential,
            method="passkey",
            used_before=result.used_before,
        )
    except PasskeyError as exc:
        x.count(limit)
        return x.json(exc.body(x.edge.passkeys.rp.id), exc.status)
    except Exception:
        x.count(limit)  # as the view counts the 400 or 500 that follows
        raise
    return x.json({"ok": True, "username": result.user.username})

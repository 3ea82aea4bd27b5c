"""The device-token cookie (``__Host-keystile-device``): one browser's tokens, one per
account it signed in to, signed with the app's key (:mod:`app.services.devices` says what
they are for).

The cookie is HttpOnly, Secure and SameSite=Lax with the ``__Host-`` prefix (RFC 6265bis
§4.1.3.2), like the session cookie. A cookie whose signature does not hold is ignored: its
browser is one without tokens.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, g, request
from itsdangerous import BadData, URLSafeSerializer
from werkzeug.wrappers import Response as BaseResponse

from app.db import get_db
from app.models import DeviceToken, User, utcnow
from app.services import devices
from app.web.client import user_agent_of
from app.web.context import settings

COOKIE = "__Host-keystile-device"
_SALT = "keystile-device-tokens"
#: a cookie beyond this is not Keystile's (five tokens take about 300 characters)
_MAX_COOKIE = 2048


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt=_SALT)


def held() -> dict[str, str]:
    """This browser's tokens: account id (as text) -> secret, oldest first."""
    raw = request.cookies.get(COOKIE, "")
    if not raw or len(raw) > _MAX_COOKIE:
        return {}
    try:
        value = _signer().loads(raw)
    except BadData:
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def token_for(username: str) -> DeviceToken | None:
    """The live token this browser holds for the account ``username`` names."""
    tokens = held()
    if not tokens:
        return None
    return devices.find(get_db(), tokens.values(), username=username, now=utcnow())


def lifetime() -> timedelta:
    return timedelta(days=settings().device_token_days)


def remember(user: User) -> None:
    """At a sign-in: keep this browser's live token for ``user``, or issue one (in the
    sign-in's transaction); the cookie is written after the request."""
    db = get_db()
    now = utcnow()
    tokens = held()
    secret = tokens.pop(str(user.id), None)
    if secret is None or not devices.valid_for(db, secret, user_id=user.id, now=now):
        secret = devices.issue(
            db,
            user,
            now=now,
            lifetime=lifetime(),
            user_agent=user_agent_of(request.headers.get("User-Agent", "")),
        )
    tokens[str(user.id)] = secret  # the newest last; the oldest go first
    kept = list(tokens.items())[-devices.MAX_PER_BROWSER :]
    g.device_cookie = _signer().dumps(dict(kept))


def write_cookie(response: BaseResponse) -> BaseResponse:
    """after_request: the cookie a sign-in of this request decided on."""
    value = g.get("device_cookie")
    if value:
        response.set_cookie(
            COOKIE,
            value,
            secure=True,
            httponly=True,
            samesite="Lax",
            path="/",
            max_age=int(lifetime().total_seconds()),
        )
    return response

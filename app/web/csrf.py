"""Keystile's one CSRF check, for the Flask views, their forms and the sign-in edge alike.

A page carries a token (:func:`page_token`, in Flask-WTF's format: the cookie session's
random ``csrf_token`` secret, signed by ``itsdangerous`` with the app's key and the salt
``wtf-csrf-token``); a state-changing request must send it back, in the ``csrf_token`` form
field or the ``X-CSRFToken`` header, and it must name the secret this browser's cookie
session holds (OWASP CSRF Prevention Cheat Sheet, "synchronizer token pattern"). A token
has no time limit of its own: it lives as long as the cookie session, which a sign-in
starts afresh.

The signature is checked against ``SECRET_KEY`` and then every key of Flask's
``SECRET_KEY_FALLBACKS``, the order Flask's own cookie session tries them in, so rotating
the key keeps open pages' tokens valid until the old key leaves the fallbacks.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, g, request, session
from flask_wtf.csrf import CSRFError
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import Headers
from wtforms import ValidationError
from wtforms.csrf.core import CSRF

#: where a token is sent: the form field and the headers (Flask-WTF's names, kept)
FIELD = "csrf_token"
HEADERS = ("X-CSRFToken", "X-CSRF-Token")
#: where the secret is kept in the cookie session (Flask-WTF's ``generate_csrf`` puts it there)
SESSION_KEY = "csrf_token"
#: the methods that must carry a token (RFC 9110 §9.2.1: every method that is not safe)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SALT = "wtf-csrf-token"
MESSAGE = "Your form expired or came from elsewhere. Reload the page and try again."

#: (SECRET_KEY, *SECRET_KEY_FALLBACKS) -> the reader of tokens those keys signed
_readers: dict[tuple[Any, ...], Callable[[str], str | None]] = {}


def _reader(keys: tuple[Any, ...]) -> Callable[[str], str | None]:
    serializers = [URLSafeTimedSerializer(key, salt=SALT) for key in keys if key]

    # A page's token comes back with each of the page's requests, and what it names depends
    # on the token and the keys alone (no time limit): one signature check per token.
    @lru_cache(maxsize=4096)
    def secret_of(token: str) -> str | None:
        for serializer in serializers:
            try:
                value = serializer.loads(token)
            except BadData:
                continue
            return value if isinstance(value, str) else None
        return None

    return secret_of


def _keys(app: Flask) -> tuple[Any, ...]:
    return (app.config["SECRET_KEY"], *(app.config.get("SECRET_KEY_FALLBACKS") or ()))


def page_token() -> str:
    """The token for this request's page (one per request), and the cookie session's secret
    it signs, made on first use."""
    if "keystile_csrf_token" not in g:
        if not isinstance(session.get(SESSION_KEY), str):
            session[SESSION_KEY] = secrets.token_hex(20)
        signer = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)
        g.keystile_csrf_token = signer.dumps(session[SESSION_KEY])
    return str(g.keystile_csrf_token)


def token_secret(app: Flask, token: str) -> str | None:
    """The secret ``token`` carries, if the app's key or one of its fallbacks signed it."""
    keys = _keys(app)
    reader = _readers.get(keys)
    if reader is None:
        reader = _readers[keys] = _reader(keys)
    return reader(token)


def check_csrf(app: Flask, token: str | None, cookie_session: Mapping[str, Any]) -> bool:
    """Whether ``token`` names the CSRF secret of ``cookie_session`` (the browser's)."""
    secret = cookie_session.get(SESSION_KEY)
    if not token or not isinstance(secret, str):
        return False
    signed = token_secret(app, token)
    return signed is not None and hmac.compare_digest(secret, signed)


def sent_token(headers: Headers, form: Mapping[str, str] | None = None) -> str:
    """The token a request sends: the form field first, then the headers."""
    if form is not None and (value := form.get(FIELD)):
        return value
    return next((v for h in HEADERS if (v := headers.get(h))), "")


def protect() -> None:
    """before_request: every request with an unsafe method carries a valid token.

    Raises:
        CSRFError: no token, or not this browser's (a 400 page or JSON, see
            :mod:`app.web.security`).
    """
    if request.method not in UNSAFE_METHODS or request.endpoint is None:
        return  # a request no view takes is a 404 or 405, whatever it carries
    form = request.form if request.mimetype in _FORM_TYPES else None
    if not check_csrf(current_app, sent_token(request.headers, form), session):
        raise CSRFError(MESSAGE)


_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class SessionCSRF(CSRF):  # type: ignore[misc]  # WTForms is untyped
    """A form's ``csrf_token`` field (WTForms' ``Meta.csrf_class``): rendered with
    :func:`page_token`, validated by :func:`check_csrf`."""

    def generate_csrf_token(self, csrf_token_field: Any) -> str:
        return page_token()

    def validate_csrf_token(self, form: Any, field: Any) -> None:
        if not check_csrf(current_app, field.data, session):
            raise ValidationError(MESSAGE)

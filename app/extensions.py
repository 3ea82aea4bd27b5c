"""Flask extensions, created unbound and wired by create_app()."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_login.signals import user_accessed

from app.web.client import throttle_key


class SessionRowLogins(LoginManager):  # type: ignore[misc]  # Flask-Login is untyped
    """Flask-Login with one way in: the request loader (``auth_state.load_user``), which finds
    the server-side session behind Keystile's own cookie.

    Keystile never puts Flask-Login's ``_user_id`` in the cookie session nor sets its
    remember-me cookie, yet Flask-Login 0.6 reads a ``remember_token`` cookie *instead of*
    the request loader whenever one is present, whatever its value: one such cookie (a sibling
    subdomain can set it) made a signed-in browser anonymous to Flask, so that logging out, or
    a new sign-in (threat model E.20), ended nothing.
    """

    def _load_user(self) -> None:
        user_accessed.send(current_app._get_current_object())  # type: ignore[attr-defined]
        self._update_request_context_with_user(self._load_user_from_request(request))


login_manager = SessionRowLogins()
limiter = Limiter(key_func=throttle_key, default_limits=[], headers_enabled=True,
                  swallow_errors=False)

"""Who is signed in: the server-side session behind the ``__Host-`` cookie.

The cookie holds only a random id (ASVS V7.2); every sign-in gets a new one and ends the
session the browser had (threat model E.20); logout deletes the server-side row, so a
replayed cookie finds nothing.

:data:`current_user` is read from that cookie alone, once per request. (Flask-Login did this
before, but it read a ``remember_token`` cookie *instead of* Keystile's whenever one was
present, whatever its value: one such cookie, which a sibling subdomain can set, made a
signed-in browser anonymous, so that logging out, or a new sign-in, ended nothing.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from flask import Flask, Response, abort, g, redirect, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response as BaseResponse

from app.db import get_db
from app.models import AuthSession, Credential, User, utcnow
from app.services import policy, sessions
from app.services.audit import Client, Identified
from app.services.notices import NULL_MAILER, Mailer
from app.web import client_cert, devices
from app.web.client import current_client
from app.web.context import mailer, session_timeouts, settings

COOKIE = "__Host-keystile-session"
F = TypeVar("F", bound=Callable[..., Any])


class Anonymous:
    """Who :data:`current_user` is without a live session (what templates and views ask)."""

    is_authenticated = False
    is_anonymous = True
    is_active = False
    is_admin = False
    username = ""

    def get_id(self) -> None:
        return None


ANONYMOUS = Anonymous()


def _current_user() -> User | Anonymous:
    if "current_user" not in g:
        g.current_user = load_user(request) or ANONYMOUS
    return cast(User | Anonymous, g.current_user)


#: the signed-in user of this request, or :data:`ANONYMOUS`
current_user: Any = LocalProxy(_current_user)


def init_app(app: Flask) -> None:
    """``current_user`` in every template; the session cookie set or cleared after each
    request; responses vary with the cookies they were answered for."""
    app.context_processor(lambda: {"current_user": current_user})
    app.after_request(write_cookie)
    app.after_request(devices.write_cookie)


def load_user(req: Any) -> User | None:
    """The user of a live session cookie, or None."""
    secret = req.cookies.get(COOKIE, "")
    if not secret:
        return None
    row = sessions.resolve(
        get_db(), secret, now=utcnow(), timeouts=session_timeouts(), binding=key_binding()
    )
    if row is None:
        g.clear_session_cookie = True
        return None
    g.auth_session = row
    return row.user


def key_binding() -> sessions.KeyBinding | None:
    """Whether, and how, this request binds certificate sessions to their key
    (:func:`app.web.client_cert.key_binding`; the gate's checks always forward the
    certificate)."""
    return client_cert.key_binding(
        request.environ,
        request.headers,
        settings(),
        gate=request.blueprint == "gate",
        client=current_client,
    )


def current_session() -> AuthSession | None:
    if not current_user.is_authenticated:
        return None
    return cast(AuthSession | None, g.get("auth_session"))


def sign_in(
    user: User, credential: Credential | None, method: str, *, credential_used_before: bool = False
) -> AuthSession:
    """Start a new session (and end the browser's previous one); commits. A password
    sign-in also keeps or gives this browser a device token for ``user``, in the same
    transaction (only password sign-ins are limited per account, so only they need one;
    the sign-in edge, which answers passkey and certificate sign-ins, issues none either)."""
    db = get_db()
    if method == "password":
        devices.remember(user)
    opened = open_session(
        db,
        user=user,
        credential=credential,
        method=method,
        client=current_client(),
        now=utcnow(),
        timeouts=session_timeouts(),
        cookie_session=session,
        replacing=current_session(),
        mailer=mailer(),
        credential_used_before=credential_used_before,
    )
    row = opened.row(db, user, credential)
    g.new_session_cookie = opened.secret
    g.auth_session = row
    g.current_user = user
    return row


def open_session(
    db: Session,
    *,
    user: Identified,
    credential: Identified | None,
    method: str,
    client: Client,
    now: datetime,
    timeouts: sessions.Timeouts,
    cookie_session: MutableMapping[str, Any],
    replacing: AuthSession | None = None,
    mailer: Mailer = NULL_MAILER,
    credential_used_before: bool = False,
) -> sessions.Opened:
    """Establish a sign-in, for the Flask views and the sign-in edge alike: a new session
    row (ending ``replacing``, the browser's previous one: E.20), and the anonymous cookie
    session (the signed-out page's CSRF secret and ceremony state) started afresh. The
    response then sets the new session's cookie (:func:`write_session_cookie`)."""
    opened = sessions.open_for_sign_in(
        db,
        user=user,
        credential=credential,
        method=method,
        client=client,
        now=now,
        timeouts=timeouts,
        replacing=replacing,
        mailer=mailer,
        credential_used_before=credential_used_before,
    )
    if cookie_session:
        cookie_session.clear()
    return opened


def sign_out(reason: str = "logout") -> AuthSession | None:
    row = current_session()
    if row is not None:
        sessions.end(get_db(), row, now=utcnow(), reason=reason)
    g.clear_session_cookie = True
    session.clear()
    return row


def write_cookie(response: BaseResponse) -> BaseResponse:
    """after_request: set or clear the session cookie as this request decided."""
    write_session_cookie(
        response,
        opened=g.get("new_session_cookie"),
        ended=bool(g.get("clear_session_cookie")),
        timeouts=session_timeouts(),
    )
    return response


def write_session_cookie(
    response: BaseResponse, *, opened: str | None, ended: bool, timeouts: sessions.Timeouts
) -> None:
    """The session cookie as the request left it: set to a session it opened, deleted when
    it ended one (or the cookie named nothing live), else untouched. Either way the answer
    depends on the cookies it was given (``Vary: Cookie``)."""
    response.vary.add("Cookie")
    if opened:
        set_session_cookie(response, opened, timeouts)
    elif ended:
        clear_session_cookie(response)


def set_session_cookie(response: BaseResponse, secret: str, timeouts: sessions.Timeouts) -> None:
    """The ``__Host-`` cookie (RFC 6265bis §4.1.3.2: Secure, Path=/, no Domain)."""
    response.set_cookie(
        COOKIE,
        secret,
        secure=True,
        httponly=True,
        samesite="Lax",
        path="/",
        max_age=int(timeouts.absolute.total_seconds()),
    )


def clear_session_cookie(response: BaseResponse) -> None:
    response.delete_cookie(COOKIE, secure=True, httponly=True, samesite="Lax", path="/")


def is_recent(row: AuthSession | None) -> bool:
    if row is None:
        return False
    return utcnow() - row.created_at <= timedelta(minutes=settings().recent_auth_minutes)


def _sign_in_first() -> BaseResponse:
    """Send a signed-out browser to the sign-in page (GET) or refuse (anything else)."""
    if request.method == "GET":
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _sign_in_first()
        return view(*args, **kwargs)

    return cast(F, wrapped)


def recent_auth_required(view: F) -> F:
    """Sensitive changes need a sign-in within the last few minutes (threat model F.24)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            abort(401)
        if not is_recent(current_session()):
            if request.is_json or request.path.startswith(("/webauthn/", "/api/")):
                return _reauth_json()
            return redirect(url_for("auth.login", reauth=1, next=url_for("account.index")))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _reauth_json(
    code: str = "reauth_required",
    message: str = "Please sign in again to confirm it is you, then retry.",
) -> Response:
    from flask import jsonify

    resp = jsonify(error=code, message=message)
    resp.status_code = 403
    return resp


def step_up(
    *, removing: Credential | None = None, back_to: str | None = None
) -> BaseResponse | None:
    """None when this session may make a credential change; otherwise the answer that asks
    for a sign-in at the level the change needs (threat model F.24, see
    :func:`app.services.policy.step_up_to`): JSON for the WebAuthn and API paths, else a
    redirect to the sign-in page, then to ``back_to`` (default: the account page)."""
    row = current_session()
    user: User = current_user._get_current_object()
    needed = policy.step_up_to(
        row.credential if row is not None else None, user.active_credentials(), removing=removing
    )
    if needed is None:
        return None
    if request.is_json or request.path.startswith(("/webauthn/", "/api/")):
        return _reauth_json(
            "step_up_required", f"To make this change, sign in again with your {needed.label}."
        )
    # The sign-in page says which level, and offers only the ways in that reach it.
    return redirect(
        url_for(
            "auth.login",
            reauth=1,
            need=needed.name.lower(),
            next=back_to or url_for("account.index"),
        )
    )


def admin_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _sign_in_first()
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapped)

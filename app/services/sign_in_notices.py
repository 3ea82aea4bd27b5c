"""Telling a user when they sign in by a method they have never used before.

A sign-in by a new method (a first certificate sign-in for someone who always used a
password, say) is what an attacker holding a stolen credential looks like, so the user hears
of it: a notice on the account page and, when configured, an e-mail. The very first sign-in
of an account is not news and says nothing.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from app.models import AuthSession, User
from app.services.audit import Identified
from app.services.notices import NULL_MAILER, Mailer, notify

TAG = "account:sign_in:new_method"
_MINE = AuthSession.user_id == bindparam("user_id")
#: one round trip on the sessions(user_id) index, however many sessions the user had
_BEFORE = select(
    exists().where(_MINE), exists().where(_MINE, AuthSession.method == bindparam("method"))
)
_NAMES = {
    "password": "your password",
    "certificate": "a certificate",
    "passkey": "a passkey or security key",
}


def notify_if_new_method(
    db: Session, user: Identified, method: str, *, mailer: Mailer = NULL_MAILER
) -> bool:
    """Add a notice (in the caller's transaction) unless ``method`` opened a session before.

    Call it before the new session is added. Returns whether the user was told.
    """
    any_before, method_before = db.execute(_BEFORE, {"user_id": user.id, "method": method}).one()
    if not any_before or method_before:
        return False
    if not isinstance(user, User):  # a sign-in's plain row: the notice needs the account
        user = db.get_one(User, user.id)
    notify(
        db,
        user,
        TAG,
        f"You signed in with {_NAMES.get(method, method)} for the first time. If this was "
        "not you, sign out everywhere from your account page and tell an administrator.",
        mailer=mailer,
    )
    return True

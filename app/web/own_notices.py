"""Notices a browser's own change caused, said once there.

A credential change tells its owner twice over: the page that made it flashes what was done,
and a notice is kept (and mailed) for every other place the owner looks. In the browser that
made the change the notice would repeat the flash, so its id is remembered in that browser's
cookie session and the account page leaves it out there. Every other browser, and the
e-mail, still get it: a change someone else made is never hidden from the owner.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from flask import session
from sqlalchemy import func, select

from app.db import get_db
from app.models import Notice
from app.web.auth_state import current_user

F = TypeVar("F", bound=Callable[..., Any])
KEY = "own_notices"
#: a browser remembers its last few: enough for the page it returns to
KEEP = 20


def said_by_flash(view: F) -> F:
    """Remember the notices ``view`` creates for the signed-in user as already said here."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return view(*args, **kwargs)
        user_id = current_user.id
        db = get_db()
        before = db.scalar(select(func.max(Notice.id)).where(Notice.user_id == user_id)) or 0
        result = view(*args, **kwargs)
        if current_user.is_authenticated:
            new = db.scalars(
                select(Notice.id).where(Notice.user_id == user_id, Notice.id > before)
            ).all()
            if new:
                session[KEY] = [*session.get(KEY, []), *new][-KEEP:]
        return result

    return cast(F, wrapped)


def not_said_here(notices: Iterable[Notice]) -> list[Notice]:
    """The unread notices this browser has not already been told by a flash."""
    own = set(session.get(KEY, []))
    return [n for n in notices if n.read_at is None and n.id not in own]

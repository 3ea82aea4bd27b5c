"""The account page's notice that someone has been guessing this account's password
(``account/_targeted.html``), from :func:`app.services.attacks.targeted_notice`: how many
wrong passwords, from how many addresses, since when; never the addresses."""

from __future__ import annotations

from app.account.views import bp
from app.db import get_db
from app.models import utcnow
from app.services.attacks import TargetedNotice, targeted_notice
from app.web.auth_state import current_user


@bp.app_template_global()
def password_guesses() -> TargetedNotice | None:
    if not current_user.is_authenticated:
        return None
    return targeted_notice(get_db(), current_user.id, now=utcnow())

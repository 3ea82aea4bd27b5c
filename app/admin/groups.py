"""Admin: a user's group memberships, changed from their page (audited by the service)."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.admin.forms import GroupForm
from app.admin.views import bp, current_admin, require_recent
from app.db import get_db
from app.models import User, utcnow
from app.services import groups
from app.services.groups import GroupError
from app.web.auth_state import admin_required
from app.web.client import current_client


@bp.post("/users/<int:user_id>/groups/<any(add, remove):action>")
@admin_required
def change_group(user_id: int, action: str) -> BaseResponse:
    db = get_db()
    user = db.get(User, user_id)
    if user is None:
        abort(404)
    form = GroupForm()
    if not form.validate_on_submit():
        abort(400)
    back = url_for("admin.user", user_id=user.id)
    if (again := require_recent(back)) is not None:
        return again
    change = groups.add if action == "add" else groups.remove
    try:
        changed = change(
            db,
            user,
            form.group.data or "",
            client=current_client(),
            now=utcnow(),
            actor=current_admin(),
        )
    except GroupError as exc:
        flash(exc.message, "error")
        return redirect(back, code=303)
    db.commit()
    name = groups.group_name(form.group.data or "")
    if action == "add":
        flash(
            f"Added {user.username} to {name}."
            if changed
            else f"{user.username} is already in {name}.",
            "success" if changed else "info",
        )
    else:
        flash(
            f"Removed {user.username} from {name}."
            if changed
            else f"{user.username} is not in {name}.",
            "success" if changed else "info",
        )
    return redirect(back, code=303)

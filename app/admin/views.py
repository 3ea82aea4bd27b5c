"""The admin blueprint, what every admin view shares, and account requests.

Every view is admins-only (``admin_required``: 403 for anyone else); every action is a POST
with a CSRF token, needs a recent sign-in, and is audited with the admin as actor by the
service it calls. The users, audit and dashboard views live in sibling modules.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.admin import pending
from app.db import get_db
from app.models import AccountRequest, User, utcnow
from app.services import accounts
from app.services.accounts import AccountError
from app.web import auth_state
from app.web.auth_state import admin_required, current_session, current_user, is_recent
from app.web.client import current_client
from app.web.context import mailer
from app.web.forms import ActionForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _waiting() -> dict[str, object]:
    """How many account requests wait, for the admin navigation; an action that waited for
    a fresh sign-in, to finish."""
    return {
        "pending_requests": accounts.pending_count(get_db()),
        "pending_action": pending.pending_action(),
    }


def current_admin() -> User:
    user: User = current_user._get_current_object()
    return user


def require_recent(back_to: str) -> BaseResponse | None:
    """Admin actions need a recent sign-in as strong as the admin's strongest credential,
    like a user's own credential changes (threat model F.24): a phished admin password must
    not revoke keys, disable accounts or issue set-up links while the admin holds a key.

    Returns a redirect to sign in again, then back to ``back_to`` with this action named in
    it so that the page offers to finish it (:mod:`app.admin.pending`), or None to go on.
    The sign-in page says why it asks (no flash repeating it).
    """
    back = pending.back_with(back_to)
    if not is_recent(current_session()):
        return redirect(url_for("auth.login", reauth=1, next=back), code=303)
    return auth_state.step_up(back_to=back)


def check_action_form() -> None:
    """A POST action must carry this session's CSRF token."""
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.get("/requests")
@admin_required
def requests() -> str:
    return render_template(
        "admin/requests.html",
        pending=accounts.pending_with_clashes(get_db()),
        action_form=ActionForm(),
    )


@bp.post("/requests/<int:request_id>/<any(approve, reject):decision>")
@admin_required
def decide(request_id: int, decision: str) -> BaseResponse | str:
    check_action_form()
    if (again := require_recent(url_for("admin.requests"))) is not None:
        return again
    db = get_db()
    asked = db.get(AccountRequest, request_id)
    try:
        if decision == "approve":
            user, secret = accounts.approve_request(
                db,
                request_id,
                client=current_client(),
                now=utcnow(),
                actor=current_admin(),
                username=request.form.get("username", "")[:200] or None,
                mailer=mailer(),
            )
            link = url_for("auth.enroll", token=secret, _external=True)
            return render_template(
                "admin/approved.html",
                user=user,
                link=link,
                new_account=True,
                asked_for=asked.username if asked else "",
            )
        accounts.reject_request(
            db, request_id, client=current_client(), now=utcnow(), actor=current_admin()
        )
    except AccountError as exc:
        db.rollback()
        which = f"The request for {asked.username}" if asked is not None else "That request"
        flash(f"{which} was not {decision}d: {exc.message}", "error")
        return redirect(url_for("admin.requests"), code=303)
    flash("Request rejected.", "info")
    return redirect(url_for("admin.requests"), code=303)

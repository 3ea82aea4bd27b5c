"""Admin: the users table, one user's page, and the actions taken from it.

An object named in an action's URL must belong to the user named beside it: a credential or
session id of someone else is a 404, as if it did not exist (threat model F.26).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.admin.forms import GroupForm, RevokeForm, UserSearchForm
from app.admin.views import bp, check_action_form, current_admin, require_recent
from app.db import get_db
from app.models import AuthSession, Credential, User, UserStatus, utcnow
from app.services import accounts, credentials, groups, reports, sessions
from app.services.audit import Event, record
from app.services.credentials import CredentialError
from app.services.notices import notify
from app.services.policy import needs_hardware_key
from app.services.reports import UserFilter, UserQuery
from app.web.auth_state import admin_required
from app.web.client import current_client
from app.web.context import mailer, settings
from app.web.forms import ActionForm


@bp.get("/users")
@admin_required
def users() -> tuple[str, int]:
    form = UserSearchForm(request.args)
    if not form.validate():
        return render_template("admin/users.html", form=form, page=None), 400
    query = UserQuery(
        search=form.q.data or "",
        filter=UserFilter(form.filter.data or ""),
        after=request.args.get("after") or None,
        before=request.args.get("before") or None,
    )
    page = reports.users_page(
        get_db(), query, now=utcnow(), hardware_roles=settings().require_hardware_key_for
    )
    keep = {"q": query.search, "filter": query.filter.value}
    return render_template(
        "admin/users.html", form=form, page=page, query={k: v for k, v in keep.items() if v}
    ), 200


def _user(user_id: int) -> User:
    user = get_db().get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/users/<int:user_id>")
@admin_required
def user(user_id: int) -> str:
    detail = reports.user_detail(get_db(), user_id, now=utcnow())
    if detail is None:
        abort(404)
    required = needs_hardware_key(str(detail.user.role), settings().require_hardware_key_for)
    return render_template(
        "admin/user.html",
        detail=detail,
        hardware_required=required,
        action_form=ActionForm(),
        revoke_form=RevokeForm(formdata=None),
        me=current_admin(),
        groups=groups.of_user(get_db(), user_id),
        group_form=GroupForm(formdata=None),
    )


def _back(user: User) -> str:
    return url_for("admin.user", user_id=user.id)


@bp.post("/users/<int:user_id>/credentials/<int:credential_id>/revoke")
@admin_required
def revoke_credential(user_id: int, credential_id: int) -> BaseResponse:
    user = _user(user_id)
    form = RevokeForm()
    if not form.validate_on_submit():
        abort(400)
    cred = get_db().get(Credential, credential_id)
    if cred is None or cred.user_id != user.id:
        abort(404)
    if (again := require_recent(_back(user))) is not None:
        return again
    admin = current_admin()
    try:
        ended = credentials.remove(
            get_db(),
            cred,
            client=current_client(),
            now=utcnow(),
            reason=(form.reason.data or "").strip() or "revoked by an administrator",
            actor=admin,
            allow_last=user.id != admin.id,
            mailer=mailer(),
        )
    except CredentialError as exc:
        flash(exc.message, "error")
        return redirect(_back(user), code=303)
    flash(f"Revoked {cred.display_name} of {user.username}; {ended} session(s) ended.", "success")
    return redirect(_back(user), code=303)


def _sessions_ended(user: User, count: int, what: str) -> None:
    db = get_db()
    record(
        db,
        Event.SESSIONS_ENDED,
        client=current_client(),
        success=True,
        user=user,
        actor=current_admin(),
        details={"count": count, "by": "administrator"},
    )
    notify(
        db,
        user,
        str(Event.SESSIONS_ENDED),
        f"An administrator ended {what}. Sign in again to continue.",
        mailer=mailer(),
    )
    db.commit()


@bp.post("/users/<int:user_id>/sessions/<int:session_id>/end")
@admin_required
def end_session(user_id: int, session_id: int) -> BaseResponse:
    user = _user(user_id)
    check_action_form()
    db = get_db()
    row = db.get(AuthSession, session_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        abort(404)
    if (again := require_recent(_back(user))) is not None:
        return again
    sessions.end(db, row, now=utcnow(), reason="ended by administrator")
    _sessions_ended(user, 1, f"one of your sessions (signed in {row.created_at:%Y-%m-%d %H:%M})")
    flash(f"Ended a session of {user.username}.", "success")
    return redirect(_back(user), code=303)


@bp.post("/users/<int:user_id>/sessions/end-all")
@admin_required
def end_sessions(user_id: int) -> BaseResponse:
    user = _user(user_id)
    check_action_form()
    if (again := require_recent(_back(user))) is not None:
        return again
    count = sessions.end_all(
        get_db(), user_id=user.id, now=utcnow(), reason="ended by administrator"
    )
    _sessions_ended(user, count, "all your sessions")
    flash(f"Ended {count} session(s) of {user.username}.", "success")
    return redirect(_back(user), code=303)


@bp.post("/users/<int:user_id>/<any(disable, enable):action>")
@admin_required
def set_status(user_id: int, action: str) -> BaseResponse:
    user = _user(user_id)
    check_action_form()
    if (again := require_recent(_back(user))) is not None:
        return again
    if user.id == current_admin().id:
        flash("You cannot disable or re-enable your own account.", "error")
        return redirect(_back(user), code=303)
    status = UserStatus.DISABLED if action == "disable" else UserStatus.ACTIVE
    accounts.set_status(
        get_db(), user, status, client=current_client(), now=utcnow(), actor=current_admin()
    )
    flash(f"{user.username} is now {status}.", "success")
    return redirect(_back(user), code=303)


@bp.post("/users/<int:user_id>/enrolment-link")
@admin_required
def enrolment_link(user_id: int) -> BaseResponse | str:
    """A new one-time set-up link for someone who lost theirs, or every way to sign in.

    Earlier links stop working; the user is told. Not for an administrator's account, the
    admin's own included: a link adds a credential without the account's step-up (threat
    model F.24), so one admin could take over another's account; the operator issues those
    on the server (``keystile user link``).
    """
    user = _user(user_id)
    check_action_form()
    if (again := require_recent(_back(user))) is not None:
        return again
    if user.is_admin or not user.is_active:
        flash(
            "A set-up link from here is only for an active, non-administrator account; "
            "for an administrator, run `keystile user link` on the server.",
            "error",
        )
        return redirect(_back(user), code=303)
    db = get_db()
    secret = accounts.issue_enrolment_link(
        db, user, client=current_client(), now=utcnow(), actor=current_admin()
    )
    notify(
        db,
        user,
        str(Event.ENROLMENT_LINK_ISSUED),
        "An administrator issued a new set-up link for your account. If you did not ask "
        "for it, tell them.",
        mailer=mailer(),
    )
    db.commit()
    return render_template(
        "admin/approved.html",
        user=user,
        new_account=False,
        link=url_for("auth.enroll", token=secret, _external=True),
    )

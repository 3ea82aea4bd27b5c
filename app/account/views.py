"""Thin views over the credentials, sessions and audit services."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from app.account.forms import ChangePasswordForm, RenameForm
from app.db import get_db
from app.models import AuditEvent, AuthSession, Credential, Notice, User, utcnow
from app.services import accounts, credentials, devices, sessions
from app.services.audit import Event, record
from app.services.credentials import CredentialError, WrongCurrentPassword
from app.services.passwords import PasswordPolicyError
from app.web import auth_state
from app.web.auth_state import current_user, login_required, recent_auth_required
from app.web.client import current_client
from app.web.context import mailer, passwords
from app.web.forms import ActionForm, NewPasswordForm
from app.web.own_notices import not_said_here, said_by_flash

bp = Blueprint("account", __name__, url_prefix="/account")

RECENT_EVENTS = 20
#: the newest unread notices shown; the rest wait behind "Mark as read"
NOTICES_SHOWN = 5


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def _own_credential(credential_id: int) -> Credential:
    cred = get_db().get(Credential, credential_id)
    # Someone else's credential is as invisible as a missing one (threat model F.26).
    if cred is None or cred.user_id != _me().id or cred.revoked_at is not None:
        abort(404)
    return cred


def _current_session_id() -> int | None:
    row = auth_state.current_session()
    return row.id if row is not None else None


def render_account(
    password_form: ChangePasswordForm | None = None,
    status: int = 200,
    add_password_form: NewPasswordForm | None = None,
) -> tuple[str, int]:
    db = get_db()
    user = _me()
    now = utcnow()
    events = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.user_id == user.id, AuditEvent.tag.like("auth:%"))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(RECENT_EVENTS)
    ).all()
    notices = not_said_here(
        db.scalars(
            select(Notice)
            .where(Notice.user_id == user.id, Notice.read_at.is_(None))
            .order_by(Notice.id.desc())
            .limit(NOTICES_SHOWN + 1)
        )
    )
    return render_template(
        "account/index.html",
        user=user,
        credentials=user.active_credentials(),
        only_way_in=credentials.only_way_in(user.active_credentials()),
        sessions=sessions.live_for_user(db, user.id, now=now),
        devices=devices.live_for_user(db, user.id, now=now),
        current=auth_state.current_session(),
        events=events,
        notices=notices[:NOTICES_SHOWN],
        more_notices=len(notices) > NOTICES_SHOWN,
        password_form=password_form or ChangePasswordForm(),
        add_password_form=add_password_form or NewPasswordForm(formdata=None),
        action_form=ActionForm(),
        rename_form=RenameForm(),
        has_password=credentials.live_password(db, user.id) is not None,
        recent=auth_state.is_recent(auth_state.current_session()),
        waiting_requests=accounts.pending_count(db) if user.is_admin else 0,
    ), status


@bp.get("")
@login_required
def index() -> tuple[str, int]:
    return render_account()


@bp.post("/password")
@recent_auth_required
@said_by_flash
def change_password() -> BaseResponse | tuple[str, int]:
    if (refused := auth_state.step_up()) is not None:
        return refused
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return render_account(form, 400)
    db = get_db()
    try:
        credentials.change_password(
            db,
            passwords(),
            user=_me(),
            current_password=form.current_password.data or "",
            new_password=form.new_password.data or "",
            client=current_client(),
            now=utcnow(),
            mailer=mailer(),
            keep_session_id=_current_session_id(),
        )
    except WrongCurrentPassword as exc:
        form.current_password.errors = [exc.message]
        if exc.new_password_problem:
            form.new_password.errors = [exc.new_password_problem]
        return render_account(form, 400)
    except PasswordPolicyError as exc:
        form.new_password.errors = [exc.message]
        return render_account(form, 400)
    flash("Your password was changed.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/password/add")
@recent_auth_required
@said_by_flash
def add_password() -> BaseResponse | tuple[str, int]:
    """A first password for an account that signs in with a passkey or certificate: adding a
    credential needs a sign-in as strong as the account's strongest (threat model F.24)."""
    if (refused := auth_state.step_up()) is not None:
        return refused
    db = get_db()
    if credentials.live_password(db, _me().id) is not None:
        flash("You already have a password; change it below.", "info")
        return redirect(url_for("account.index"), code=303)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_account(status=400, add_password_form=form)
    try:
        credentials.set_password(
            db,
            passwords(),
            user=_me(),
            new_password=form.password.data or "",
            client=current_client(),
            now=utcnow(),
            mailer=mailer(),
        )
    except PasswordPolicyError as exc:
        db.rollback()
        form.password.errors = [exc.message]
        return render_account(status=400, add_password_form=form)
    flash("Your password is set: you can now also sign in with it.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/credentials/<int:credential_id>/rename")
@login_required
@said_by_flash
def rename_credential(credential_id: int) -> BaseResponse | tuple[str, int]:
    cred = _own_credential(credential_id)
    form = RenameForm()
    if not form.validate_on_submit():
        flash("Enter a name of at most 100 characters.", "error")
        return redirect(url_for("account.index"), code=303)
    credentials.rename(
        get_db(),
        cred,
        form.label.data or "",
        client=current_client(),
        now=utcnow(),
        mailer=mailer(),
    )
    flash("Renamed.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/credentials/<int:credential_id>/remove")
@recent_auth_required
@said_by_flash
def remove_credential(credential_id: int) -> BaseResponse:
    cred = _own_credential(credential_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if (refused := auth_state.step_up(removing=cred)) is not None:
        return refused
    try:
        own = auth_state.current_session()
        credentials.remove(
            get_db(),
            cred,
            client=current_client(),
            now=utcnow(),
            mailer=mailer(),
            keep_session_id=own.id if own else None,
        )
    except CredentialError as exc:
        flash(exc.message, "error")
        return redirect(url_for("account.index"), code=303)
    flash(f"Removed {cred.display_name}.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> BaseResponse:
    db = get_db()
    row = db.get(AuthSession, session_id)
    if row is None or row.user_id != _me().id or row.revoked_at is not None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    sessions.end(db, row, now=utcnow(), reason="ended by user")
    record(
        db,
        Event.SESSIONS_ENDED,
        client=current_client(),
        success=True,
        user=_me(),
        details={"count": 1},
    )
    db.commit()
    flash("That session has ended.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/sessions/end-all")
@login_required
def end_all_sessions() -> BaseResponse:
    """Sign out everywhere, this browser included; the browsers' device tokens too if the
    box is ticked (without them, those browsers count as new ones against the account's
    limit on wrong passwords)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_db()
    user = _me()
    count = sessions.end_all(db, user_id=user.id, now=utcnow(), reason="signed out everywhere")
    record(
        db,
        Event.SESSIONS_ENDED,
        client=current_client(),
        success=True,
        user=user,
        details={"count": count},
    )
    if request.form.get("forget_devices"):
        devices.revoke_all(db, user, client=current_client())
    auth_state.sign_out("signed out everywhere")
    db.commit()
    from flask import session

    session["signed_out"] = True
    flash(f"Signed out everywhere ({count} sessions ended).", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.post("/devices/<int:token_id>/forget")
@login_required
def forget_device(token_id: int) -> BaseResponse:
    """Revoke one browser's device token: it counts as a new browser from now on."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if not devices.revoke(get_db(), _me(), token_id, client=current_client()):
        abort(404)  # someone else's token is as invisible as a missing one
    flash("That browser is forgotten.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/notices/read")
@login_required
def read_notices() -> BaseResponse:
    if not ActionForm().validate_on_submit():
        abort(400)
    db = get_db()
    for notice in db.scalars(
        select(Notice).where(Notice.user_id == _me().id, Notice.read_at.is_(None))
    ):
        notice.read_at = utcnow()
    db.commit()
    return redirect(url_for("account.index"), code=303)

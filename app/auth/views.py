"""Thin views: read the form, call a service, render or redirect."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from app.auth.forms import LoginForm, RequestAccountForm
from app.db import get_db
from app.models import Strength, TokenPurpose, User, normalize_username, utcnow
from app.services import accounts, credentials, sessions, signin, tokens
from app.services.accounts import AccountError, RequestForm
from app.services.audit import Event, record
from app.services.credentials import CredentialError
from app.services.hash_budget import NoHashSlot
from app.services.passwords import PasswordPolicyError
from app.services.throttle import Limit
from app.web import auth_state, devices, hash_gate, throttle
from app.web.auth_state import current_user
from app.web.client import current_client, throttle_key
from app.web.context import access_rules, mailer, passwords, settings
from app.web.forms import NewPasswordForm
from app.web.redirects import safe_next

bp = Blueprint("auth", __name__)

GENERIC_FAILURE = "That username and password do not match an account."


def _account_limit() -> tuple[Limit, str, bool]:
    """The limit on wrong passwords for the account the form names, its key, and whether
    this browser signed in to the account before: the account's own limit, or the allowance
    of this browser's device token for it (issue #17), which also goes first for a hash slot."""
    username = normalize_username(request.form.get("username", ""))[:256]
    device = devices.token_for(username)
    if device is not None:
        return (
            throttle.limit("login-device", settings().login_limit_per_device),
            f"device:{device.id}",
            True,
        )
    return (
        throttle.limit("login-account", settings().login_limit_per_account),
        "account:" + username,
        False,
    )


@bp.get("/login")
def login() -> str:
    """The sign-in page: passkey, password and certificate side by side. Asked to confirm a
    change (``reauth``), a signed-in person finds their username filled in, ready for a
    security key that holds no passkey."""
    form = (
        LoginForm(data={"username": current_user.username})
        if current_user.is_authenticated
        else LoginForm()
    )
    reauth = bool(request.args.get("reauth"))
    return render_template(
        "auth/login.html",
        form=form,
        next_url=_next_url(),
        reauth=reauth,
        need=_needed_strength(),
        ways=_ways_in() if reauth else None,
    )


def _ways_in() -> frozenset[str] | None:
    """Confirming a change, the signed-in person is offered only the ways in they hold
    (``password``, ``passkey``, ``security-key``, ``certificate``): no passkey button or
    security-key advice for someone who has neither. None: offer every way."""
    if not current_user.is_authenticated:
        return None
    ways = set()
    for cred in current_user.active_credentials():
        if cred.kind_name == "Security key":
            ways.add("security-key")
        ways.add(str(cred.kind))
    return frozenset(ways)


def _needed_strength() -> Strength | None:
    """The level a credential change asked this signed-in person to sign in at again
    (``need``, from :func:`app.web.auth_state.step_up`): the page then offers only the
    methods that reach it. Advice for the page only; the change checks it again."""
    name = request.args.get("need", "")
    if not current_user.is_authenticated or name.upper() not in Strength.__members__:
        return None
    return Strength[name.upper()]


@bp.post("/login")
def login_post() -> BaseResponse | tuple[str, int]:
    """Two limits, both checked before anything else (threat model D.18): failed sign-ins
    per client address, and passwords found wrong per account (or, from a browser that holds
    a device token for the account, per token). A refused request counts
    against neither; a form that does not validate counts against the address only, a
    password checked and found wrong against both (issue #17: nobody can spend an
    account's allowance with requests that never reached its password)."""
    by_address = throttle.limit("login-address", settings().login_limit_per_address)
    address = throttle_key()
    throttle.check(by_address, address, audit_as="password")
    by_account, account, known_browser = _account_limit()
    throttle.check(by_account, account, audit_as="password")
    form = LoginForm()
    next_url = _next_url()
    if not form.validate_on_submit():
        throttle.charge(by_address, address)
        return render_template("auth/login.html", form=form, next_url=next_url), 400
    username = form.username.data or ""
    try:
        result = signin.password_sign_in(
            get_db(),
            passwords(),
            username=username,
            password=form.password.data or "",
            client=current_client(),
            now=utcnow(),
            hashing=lambda: hash_gate.password_slot(username, priority=known_browser),
        )
    except NoHashSlot as refusal:
        return hash_gate.refused(refusal)
    if result.user is None:
        throttle.charge(by_address, address)
        throttle.charge(by_account, account)
        form.password.errors = [GENERIC_FAILURE]
        return render_template("auth/login.html", form=form, next_url=next_url), 401
    auth_state.sign_in(
        result.user, result.credential, "password", credential_used_before=result.used_before
    )
    return redirect(next_url, code=303)


def _next_url() -> str:
    return safe_next(
        request.args.get("next"), url_for("account.index"), external_host=access_rules().names_host
    )


@bp.post("/logout")
def logout() -> BaseResponse:
    row = auth_state.sign_out()
    if row is not None:
        db = get_db()
        record(
            db,
            Event.LOGOUT,
            client=current_client(),
            success=True,
            user=row.user,
            credential=row.credential,
            method=row.method,
        )
        db.commit()
    # Remember, in the fresh anonymous session, that this browser signed out: a
    # certificate it keeps presenting must not sign it straight back in (threat model E.23).
    session["signed_out"] = True
    flash("You have signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.get("/api/session")
def api_session() -> tuple[BaseResponse, int]:
    row = auth_state.current_session()
    return jsonify(sessions.describe(row)), 200 if row is not None else 401


@bp.route("/request-account", methods=["GET", "POST"])
@throttle.limited(
    "request-account",
    lambda s: s.request_limit_per_address,
    methods=frozenset({"POST"}),
    audit_as="password",
)
def request_account() -> str | BaseResponse | tuple[str, int]:
    form = RequestAccountForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("auth/request_account.html", form=form), 400
        try:
            accounts.request_account(
                get_db(),
                RequestForm(
                    form.username.data or "",
                    form.display_name.data or "",
                    form.email.data or "",
                    form.message.data or "",
                ),
                client=current_client(),
                now=utcnow(),
            )
        except AccountError as exc:
            for problem in exc.errors:
                getattr(form, problem.field or "username").errors = [problem.message]
            return render_template("auth/request_account.html", form=form), 400
        return render_template("auth/request_sent.html")
    return render_template("auth/request_account.html", form=form)


def _enrolment_user(token: str) -> User:
    """The user a live link is for; a used, expired or unknown link is a 404 page that says
    what to do next."""
    row = tokens.peek(get_db(), TokenPurpose.ENROLMENT, token, now=utcnow())
    user = get_db().get(User, row.user_id) if row is not None and row.user_id else None
    if user is None or not user.is_active:
        abort(make_response(render_template("auth/enroll_gone.html"), 404))
    return user


@bp.route("/enroll/<token>", methods=["GET", "POST"])
@throttle.limited("enroll", lambda s: s.login_limit_per_address)
def enroll(token: str) -> str | BaseResponse | tuple[str, int]:
    """A one-time link: choose a password (or, with JavaScript, a passkey) for a new account."""
    user = _enrolment_user(token)
    form = NewPasswordForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("auth/enroll.html", form=form, user=user, token=token), 400
        db = get_db()
        now = utcnow()
        # Spend the link and set the password in one transaction: both or neither.
        if tokens.consume(db, TokenPurpose.ENROLMENT, token, now=now) is None:
            abort(make_response(render_template("auth/enroll_gone.html"), 404))
        try:
            cred = credentials.set_password(
                db,
                passwords(),
                user=user,
                new_password=form.password.data or "",
                client=current_client(),
                now=now,
                mailer=mailer(),
            )
        except (PasswordPolicyError, CredentialError) as exc:
            db.rollback()
            form.password.errors = [exc.message]
            return render_template("auth/enroll.html", form=form, user=user, token=token), 400
        auth_state.sign_in(user, cred, "password")
        flash("Your password is set and you are signed in.", "success")
        return redirect(url_for("account.index"), code=303)
    return render_template("auth/enroll.html", form=form, user=user, token=token)


@bp.get("/")
def index() -> BaseResponse:
    if current_user.is_authenticated:
        return redirect(url_for("account.index"))
    return redirect(url_for("auth.login"))

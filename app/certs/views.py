"""Certificate sign-in in ``auto`` and ``explicit`` modes, and certificate enrolment.

Logout holds (threat model E.23): after a sign-out the browser keeps presenting its
certificate, but only an explicit "Continue as ..." signs it in again.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from app.certs.forms import CsrForm, UploadForm
from app.db import get_db
from app.models import Credential, TokenPurpose, User, utcnow
from app.services import ca, cert_auth, credentials, stored, tokens
from app.services.audit import Event, record
from app.services.cert_auth import CertificateMatch, PolicySource
from app.services.certificates import CertificateError, describe, load_certificate
from app.services.credentials import CredentialError
from app.web import auth_state, client_cert
from app.web.auth_state import current_user, recent_auth_required
from app.web.client import current_client
from app.web.client_cert import Presented, presented
from app.web.context import access_rules, mailer, settings
from app.web.forms import ActionForm
from app.web.own_notices import said_by_flash
from app.web.redirects import safe_next

bp = Blueprint("certs", __name__, url_prefix="/certificate")

CODE_LIFETIME = timedelta(seconds=60)
#: explicit mode: the browser's own value that its one-time code must carry back (login CSRF)
STATE_KEY = "cert_state"


def policy_source() -> PolicySource:
    src: PolicySource = current_app.extensions["keystile.cert_policy"]
    return src


def _match() -> tuple[Presented | None, CertificateMatch | None]:
    """The presented certificate and what it means; cached for the request."""
    if "cert_match" in g:
        return g.cert_presented, g.cert_match
    shown = presented()
    match = (
        client_cert.judge(get_db(), shown, policy_source().policy(), settings(), now=utcnow())
        if shown is not None
        else None
    )
    g.cert_presented, g.cert_match = shown, match
    return shown, match


def _sign_in(match: CertificateMatch) -> bool:
    db = get_db()
    accepted = client_cert.accept(db, match, client=current_client(), now=utcnow(), mailer=mailer())
    if accepted is None:
        return False
    user, credential = stored.loaded(db, accepted.user, accepted.credential)
    auth_state.sign_in(user, credential, "certificate", credential_used_before=accepted.used_before)
    return True


def _safe_next(target: str | None) -> str:
    return safe_next(target, url_for("account.index"), external_host=access_rules().names_host)


def _is_cert_host() -> bool:
    s = settings()
    if s.cert_login != "explicit":
        return False
    return request.host == urlsplit(s.cert_login_origin).netloc


@bp.before_app_request
def auto_sign_in() -> BaseResponse | None:
    """``auto`` mode: a visitor presenting a pinned certificate on the sign-in page is
    signed in without a form, unless this browser signed out."""
    if (
        request.method != "GET"
        or request.endpoint != "auth.login"
        or not client_cert.may_sign_in_automatically(
            settings(),
            signed_in=current_user.is_authenticated,
            signed_out=bool(session.get("signed_out")),
        )
    ):
        return None
    shown, match = _match()
    if shown is None:
        return None
    if match is not None and match.ok and _sign_in(match):
        return redirect(_safe_next(request.args.get("next")), code=303)
    if match is not None:
        cert_auth.complete_sign_in(get_db(), match, client=current_client(), now=utcnow())
    elif shown.error_code:
        _audit_header_error(shown)
    return None


def _audit_header_error(shown: Presented) -> None:
    db = get_db()
    record(
        db,
        Event.CERTIFICATE_FAILURE,
        client=current_client(),
        success=False,
        method="certificate",
        reason=f"header_{shown.error_code}",
    )
    db.commit()


#: the pages that offer the presented certificate (the sign-in page, also after a failure)
_SHOWS_CERTIFICATE = frozenset({"auth.login", "auth.login_post", "account.index"})


@bp.app_context_processor
def certificate_context() -> dict[str, Any]:
    """What the sign-in and account pages show about the presented certificate."""
    s = settings()
    if s.cert_login == "off" or request.endpoint not in _SHOWS_CERTIFICATE:
        return {"cert_login_mode": s.cert_login}
    shown, match = _match()
    explicit_url = None
    if s.cert_login == "explicit":
        if STATE_KEY not in session:
            session[STATE_KEY] = secrets.token_urlsafe(16)
        query = urlencode({"next": request.args.get("next", ""), "state": session[STATE_KEY]})
        explicit_url = f"{s.cert_login_origin.rstrip('/')}{url_for('certs.start')}?{query}"
    return {
        "cert_login_mode": s.cert_login,
        "cert_presented": shown,
        "cert_match": match,
        "cert_explicit_url": explicit_url,
        "cert_https_url": _https_address(),
        # only a presented certificate has a button (continue, or pin it); no form else
        "cert_action_form": ActionForm(formdata=None) if match is not None else None,
    }


def _https_address() -> str | None:
    """On a plain-http address no browser can present a certificate (the TLS handshake is
    where it does, RFC 8446 §4.4.2): the same page on the https origin, or None when this
    request already came over https (or no https origin is configured: "")."""
    if request.is_secure:
        return None
    origin = settings().origin.rstrip("/")
    if not origin.startswith("https://"):
        return ""
    return origin + request.full_path.rstrip("?")


@bp.post("/login")
def continue_with_certificate() -> BaseResponse | tuple[str, int]:
    """ "Continue as alice with certificate ..." after a sign-out (auto mode only)."""
    if settings().cert_login != "auto":
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    shown, match = _match()
    if match is None:
        return _refused(shown, match)
    if _sign_in(match):
        return redirect(_safe_next(request.args.get("next")), code=303)
    # _sign_in has audited the refusal (F.27: one row per attempt)
    return render_template("certs/refused.html", shown=shown, match=match), 403


def _refused(shown: Presented | None, match: CertificateMatch | None) -> tuple[str, int]:
    if match is not None:
        if not match.ok:
            cert_auth.complete_sign_in(get_db(), match, client=current_client(), now=utcnow())
        status = 403
    elif shown is not None and shown.error_code:
        _audit_header_error(shown)
        status = 400
    else:
        status = 400
    return render_template("certs/refused.html", shown=shown, match=match), status


@bp.get("/start")
def start() -> BaseResponse | tuple[str, int]:
    """Explicit mode, on the certificate host: check the certificate, then carry the
    sign-in to the main host with a one-time code (no cookies cross hosts)."""
    if settings().cert_login != "explicit" or not _is_cert_host():
        abort(404)
    shown, match = _match()
    if match is None or not match.ok or match.user is None:
        return _refused(shown, match)
    db = get_db()
    # Accepted, not yet signed in: the one audit row is written where the code comes back.
    cred = cert_auth.accept(db, match, client=current_client(), now=utcnow(), mailer=mailer())
    if cred is None:
        return render_template("certs/refused.html", shown=shown, match=match), 403
    code = tokens.issue(
        db,
        TokenPurpose.CERT_LOGIN,
        now=utcnow(),
        lifetime=CODE_LIFETIME,
        user_id=match.user.id,
        credential_id=cred.id,
        payload={"state": request.args.get("state", "")[:64], "details": match.details},
    )
    db.commit()
    query = urlencode({"code": code, "next": _safe_next(request.args.get("next"))})
    return redirect(f"{settings().origin.rstrip('/')}{url_for('certs.complete')}?{query}", code=303)


@bp.get("/complete")
def complete() -> BaseResponse:
    """Explicit mode, on the main host: exchange the one-time code for a session.

    The code must come back to the browser that asked for it: it carries that browser's
    state value, so a code obtained with someone else's certificate cannot sign this
    browser in to their account (login CSRF).
    """
    if settings().cert_login != "explicit":
        abort(404)
    db = get_db()
    token = tokens.consume(db, TokenPurpose.CERT_LOGIN, request.args.get("code", ""), now=utcnow())
    user = db.get(User, token.user_id) if token and token.user_id else None
    cred = db.get(Credential, token.credential_id) if token and token.credential_id else None
    reason = _code_refusal(token, user, cred, session.pop(STATE_KEY, ""))
    if reason is not None:
        record(
            db,
            Event.CERTIFICATE_FAILURE,
            client=current_client(),
            success=False,
            user=user,
            credential=cred,
            method="certificate",
            reason=reason,
        )
        db.commit()
        flash(
            "That certificate sign-in link expired, was already used or was meant for "
            "another browser. Try again.",
            "error",
        )
        return redirect(url_for("auth.login"), code=303)
    assert token is not None and user is not None and cred is not None
    cert_auth.record_success(
        db,
        user,
        cred,
        client=current_client(),
        now=utcnow(),
        details=dict(token.payload.get("details") or {}),
    )
    auth_state.sign_in(user, cred, "certificate")
    return redirect(_safe_next(request.args.get("next")), code=303)


def _code_refusal(
    token: tokens.SpentToken | None, user: User | None, cred: Credential | None, state: str
) -> str | None:
    """Why an explicit-mode code signs no one in, or None."""
    if token is None:
        return "code_invalid"
    wanted = str(token.payload.get("state", ""))
    if not wanted or not hmac.compare_digest(wanted.encode(), str(state).encode()):
        return "code_other_browser"
    if user is None or not user.is_active:
        return "account_disabled"
    if cred is None or cred.revoked_at is not None:
        # Revoked in the code's short life: the code dies with the certificate.
        return "revoked_credential"
    return None


# -- enrolment -------------------------------------------------------------------------


def _me() -> User:
    user: User = current_user._get_current_object()
    return user


def _may_link() -> BaseResponse | None:
    """None, or why this session may not link a certificate now: the sunset closed linking,
    or the account holds a stronger credential than this session's sign-in (F.24)."""
    return _pinning_closed() or auth_state.step_up()


def _pinning_closed() -> BaseResponse | None:
    """After the certificate sunset's grace period, linking new certificates stops too."""
    if not cert_auth.pinning_closed(policy_source().policy(), utcnow()):
        return None
    flash(policy_source().policy().sunset.refusal_message(), "error")
    return redirect(url_for("account.index"), code=303)


def _pin(facts_cert: Any, *, source: str, proven: bool, label: str) -> BaseResponse:
    facts = describe(facts_cert)
    try:
        credentials.add(
            get_db(),
            cert_auth.certificate_credential(facts, source=source, proven=proven, label=label),
            user=_me(),
            client=current_client(),
            now=utcnow(),
            mailer=mailer(),
            details=cert_auth.audit_details(facts),
        )
    except CredentialError as exc:
        flash(exc.message, "error")
        return redirect(url_for("account.index"), code=303)
    flash(f"Certificate {facts.subject} linked to your account.", "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/pin-presented")
@said_by_flash
@recent_auth_required
def pin_presented() -> BaseResponse:
    """Link the certificate of this TLS connection: the handshake proved the key."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if (refused := _may_link()) is not None:
        return refused
    shown, match = _match()
    if shown is None or shown.cert is None or match is None:
        flash("This browser is not presenting a certificate.", "error")
        return redirect(url_for("account.index"), code=303)
    if not match.linkable:
        flash(match.message or "This certificate is already linked.", "error")
        return redirect(url_for("account.index"), code=303)
    return _pin(shown.cert, source="handshake", proven=True, label="")


@bp.route("/upload", methods=["GET", "POST"])
@said_by_flash
@recent_auth_required
def upload() -> BaseResponse | tuple[str, int] | str:
    """Pin an uploaded certificate; unproven until first used in a handshake."""
    if (refused := _may_link()) is not None:
        return refused
    form = UploadForm()
    if request.method == "GET":
        return render_template("certs/upload.html", form=form)
    if not form.validate_on_submit():
        return render_template("certs/upload.html", form=form), 400
    data = b""
    if form.certificate_file.data:
        data = form.certificate_file.data.read(64 * 1024 + 1)
    elif form.certificate_text.data:
        data = form.certificate_text.data.encode()
    try:
        cert = load_certificate(data)
        cert_auth.validate(cert, (), policy=policy_source().policy(), now=utcnow())
    except CertificateError as exc:
        form.certificate_text.errors = [exc.message]
        return render_template("certs/upload.html", form=form), 400
    return _pin(cert, source="upload", proven=False, label=form.label.data or "")


def _ca_dir() -> Path:
    return Path(settings().ca_dir or Path(current_app.instance_path) / "ca")


@bp.route("/csr", methods=["GET", "POST"])
@said_by_flash
@recent_auth_required
def csr() -> BaseResponse | tuple[str, int] | str:
    """Sign a CSR with Keystile's CA and link the new certificate."""
    if (refused := _may_link()) is not None:
        return refused
    form = CsrForm()
    try:
        authority = ca.load(_ca_dir())
    except CertificateError:
        authority = None
    if authority is None:
        return render_template("certs/csr.html", form=form, unavailable=True), 503
    if request.method == "GET":
        return render_template("certs/csr.html", form=form, username=_me().username)
    if not form.validate_on_submit():
        return render_template("certs/csr.html", form=form, username=_me().username), 400
    try:
        cert = ca.sign_csr(
            authority,
            (form.csr.data or "").encode(),
            common_name=_me().username,
            email=_me().email or None,
        )
    except CertificateError as exc:
        form.csr.errors = [exc.message]
        return render_template("certs/csr.html", form=form, username=_me().username), 400
    facts = describe(cert)
    try:
        credentials.add(
            get_db(),
            cert_auth.certificate_credential(
                facts, source="csr", proven=True, label=form.label.data or ""
            ),
            user=_me(),
            client=current_client(),
            now=utcnow(),
            mailer=mailer(),
            details=cert_auth.audit_details(facts),
        )
    except CredentialError as exc:
        form.csr.errors = [exc.message]
        return render_template("certs/csr.html", form=form, username=_me().username), 400
    from cryptography.hazmat.primitives.serialization import Encoding

    return Response(
        cert.public_bytes(Encoding.PEM),
        mimetype="application/x-pem-file",
        headers={"Content-Disposition": f'attachment; filename="{_me().username}.crt"'},
    )

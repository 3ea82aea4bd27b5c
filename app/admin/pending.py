"""An admin action interrupted by "confirm it is you", and the way back to finish it.

An action that needs a fresh sign-in (threat model F.24) is not done: the administrator is
sent to sign in again, then back to the page the action was on, with the action named in
the URL (``finish``). That page names what was not done and offers one button that does it.
Nothing is done on the way back: a GET never changes anything, and the button posts with
this session's CSRF token like any other action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException

from app.db import get_db
from app.models import AccountRequest, AuthSession, Credential, RequestStatus, User

#: form fields an action carries back with it (a revocation's reason, a new username)
CARRIED = ("reason", "username")
MAX_CARRIED = 200


@dataclass(frozen=True)
class Pending:
    """What was not done, and the form that does it."""

    url: str
    description: str  #: "reject the account request for bob"
    button: str  #: "Reject the request for bob"
    fields: dict[str, str]
    danger: bool = False


def back_with(back_to: str) -> str:
    """``back_to`` with this POST action named in it, to come back to after signing in."""
    carried = {k: request.form.get(k, "")[:MAX_CARRIED] for k in CARRIED if request.form.get(k)}
    query = urlencode({"finish": request.path, **carried})
    return f"{back_to}{'&' if '?' in back_to else '?'}{query}"


def pending_action() -> Pending | None:
    """The action named by ``finish`` on this page, if it is one that can still be done."""
    path = request.args.get("finish", "")
    if not path.startswith("/admin/") or urlsplit(path).query or len(path) > 300:
        return None
    try:
        endpoint, args = current_app.url_map.bind("localhost").match(path, method="POST")
    except HTTPException:
        return None
    fields = {k: request.args.get(k, "")[:MAX_CARRIED] for k in CARRIED if request.args.get(k)}
    described = _describe(str(endpoint), args)
    if described is None:
        return None
    description, button, danger = described
    return Pending(path, description, button, fields, danger)


def _describe(endpoint: str, args: Mapping[str, Any]) -> tuple[str, str, bool] | None:
    db = get_db()
    if endpoint == "admin.decide":
        req = db.get(AccountRequest, args["request_id"])
        if req is None or req.status != RequestStatus.PENDING:
            return None
        what = f"{args['decision']} the account request for {req.username}"
        return (
            what,
            f"{str(args['decision']).capitalize()} the request for {req.username}",
            (args["decision"] == "reject"),
        )
    user = db.get(User, args.get("user_id"))
    if user is None:
        return None
    if endpoint == "admin.revoke_credential":
        cred = db.get(Credential, args["credential_id"])
        if cred is None or cred.user_id != user.id or cred.revoked_at is not None:
            return None
        what = f"revoke {cred.display_name} of {user.username}"
        return what, f"Revoke {cred.display_name} of {user.username}", True
    if endpoint == "admin.end_session":
        row = db.get(AuthSession, args["session_id"])
        if row is None or row.user_id != user.id or row.revoked_at is not None:
            return None
        when = f"{row.created_at:%Y-%m-%d %H:%M} UTC"
        return (
            f"end the session {user.username} signed in to at {when}",
            f"End the session of {when}",
            True,
        )
    if endpoint == "admin.end_sessions":
        return (
            f"end every session of {user.username}",
            f"End every session of {user.username}",
            True,
        )
    if endpoint == "admin.set_status":
        return (
            f"{args['action']} {user.username}",
            (f"{str(args['action']).capitalize()} {user.username}"),
            args["action"] == "disable",
        )
    if endpoint == "admin.enrolment_link":
        return (
            f"issue a new set-up link for {user.username}",
            f"New set-up link for {user.username}",
            False,
        )
    return None

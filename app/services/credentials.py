"""The only code that writes credential rows, and it writes their audit rows with them.

Every change here adds its audit row and a notice for the user to the same transaction,
then commits, so a credential never changes without a trace (threat model F.24, F.27).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session, aliased, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.models import Credential, CredentialKind, User, table_of
from app.models.base import Executor, connection_of
from app.services import sessions
from app.services.audit import Client, Event, record
from app.services.errors import ServiceError
from app.services.notices import NULL_MAILER, Mailer, notify
from app.services.passwords import PasswordPolicyError, Passwords, check_policy

MAX_LABEL = 100

_CREDENTIALS, _USERS = table_of(Credential), table_of(User)
_RECORD_USE = (
    update(_CREDENTIALS)
    .where(_CREDENTIALS.c.id == bindparam("credential_id"))
    .values(
        last_used_at=bindparam("last_used_at"),
        last_used_address=bindparam("last_used_address"),
        backup_state=bindparam("backup_state"),
        # Never backwards, even when two assertions of one passkey are verified at once
        # (WebAuthn §6.1.1); NULL (not a passkey) stays NULL.
        sign_count=case(
            (_CREDENTIALS.c.sign_count < bindparam("sign_count"), bindparam("sign_count")),
            else_=_CREDENTIALS.c.sign_count,
        ),
    )
)
_RECORD_SIGN_IN = update(_USERS).where(_USERS.c.id == bindparam("user_id"))


class CredentialError(ServiceError):
    """A credential change was refused; ``message`` is safe to show the user."""


class WrongCurrentPassword(CredentialError):
    """A password change named the wrong current password. ``new_password_problem`` is what
    is also wrong with the new one (None if nothing), so that the form shows both at once
    instead of the second only after the first is put right."""

    def __init__(self, new_password_problem: str | None) -> None:
        super().__init__("wrong_current_password", "Your current password is not correct.")
        self.new_password_problem = new_password_problem


def clean_label(raw: str) -> str:
    label = " ".join(raw.split())[:MAX_LABEL]
    return "".join(ch for ch in label if ch.isprintable())


def only_way_in(live: Sequence[Credential]) -> Credential | None:
    """The one credential of ``live`` that can still sign in, when there is exactly one: the
    rule of :func:`usable_count`, for the pages (its owner cannot remove it)."""
    usable = [c for c in live if c.revoked_at is None and c.clone_flagged_at is None]
    return usable[0] if len(usable) == 1 else None


def usable_count(db: Session, user_id: int, *, excluding: int | None = None) -> int:
    """How many of the user's credentials can still sign in: not revoked, and not a passkey
    flagged as a possible clone (refused at every sign-in)."""
    stmt = (
        select(func.count())
        .select_from(Credential)
        .where(
            Credential.user_id == user_id,
            Credential.revoked_at.is_(None),
            Credential.clone_flagged_at.is_(None),
        )
    )
    if excluding is not None:
        stmt = stmt.where(Credential.id != excluding)
    return int(db.scalar(stmt) or 0)


_BY_KEY = aliased(Credential)
#: The row is picked by id from a subquery on the (kind, lookup_key) key: SQLite plans a
#: join with the key condition in it far worse (bench/passkey_login.py shows it).
_FIND = (
    select(Credential)
    .options(joinedload(Credential.user))
    .where(
        Credential.id
        == select(_BY_KEY.id)
        .where(_BY_KEY.kind == bindparam("kind"), _BY_KEY.lookup_key == bindparam("lookup_key"))
        .scalar_subquery()
    )
)


def find(db: Session, kind: CredentialKind, lookup_key: str) -> Credential | None:
    """The credential of this kind and key, revoked or not, with its owner (one query)."""
    return db.scalar(_FIND, {"kind": kind, "lookup_key": lookup_key})


def live_password(db: Session, user_id: int) -> Credential | None:
    return db.scalar(
        select(Credential).where(
            Credential.user_id == user_id,
            Credential.kind == CredentialKind.PASSWORD,
            Credential.revoked_at.is_(None),
        )
    )


def add(
    db: Session,
    credential: Credential,
    *,
    user: User,
    client: Client,
    now: datetime,
    actor: User | None = None,
    mailer: Mailer = NULL_MAILER,
    details: dict[str, object] | None = None,
    event: Event = Event.CREDENTIAL_ADDED,
) -> Credential:
    """Add a new credential built by the kind's own code, refusing a taken lookup key.

    A certificate key or passkey id already present, for anyone and even revoked, is
    refused without touching the existing row (threat model B.7, C.14).
    """
    if credential.lookup_key is not None and find(db, credential.kind, credential.lookup_key):
        record(
            db,
            Event.CREDENTIAL_REFUSED,
            client=client,
            success=False,
            user=user,
            method=str(credential.kind),
            reason="already_registered",
            actor=actor,
        )
        db.commit()
        raise CredentialError(
            "already_registered",
            f"This {credential.kind} is already registered"
            + (" to an account." if credential.kind is not CredentialKind.PASSKEY else "."),
        )
    credential.user = user
    credential.created_at = now
    db.add(credential)
    db.flush()
    record(
        db,
        event,
        client=client,
        success=True,
        user=user,
        credential=credential,
        method=str(credential.kind),
        actor=actor,
        details={"label": credential.display_name, **(details or {})},
    )
    notify(db, user, str(event), _added_notice(credential, event), mailer=mailer)
    db.commit()
    return credential


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _added_notice(credential: Credential, event: Event) -> str:
    """ "A security key was added to your account: YubiKey 5." (what it is, as the pages
    name it); a password has no name worth repeating."""
    if event is Event.PASSWORD_CHANGED:
        return "Your password was changed."
    if credential.kind is CredentialKind.PASSWORD:
        return "A password was added to your account."
    return (
        f"{_sentence(credential.kind_noun)} was added to your account: {credential.display_name}."
    )


def set_password(
    db: Session,
    passwords: Passwords,
    *,
    user: User,
    new_password: str,
    client: Client,
    now: datetime,
    actor: User | None = None,
    mailer: Mailer = NULL_MAILER,
    event: Event = Event.CREDENTIAL_ADDED,
    keep_session_id: int | None = None,
) -> Credential:
    """Set a password where none is needed first (enrolment, CLI); replaces a live one.

    Replacing one is a password change: every session the old password opened ends (a
    recovery link must shut out whoever held it), except ``keep_session_id``, the owner's own
    when they change it from their account page.
    """
    old = live_password(db, user.id)
    _check_new_password(db, passwords, user, new_password, replacing=old)
    if old is not None:
        old.revoked_at = now
        old.revoked_reason = "replaced"
        db.flush()
        sessions.end_all(
            db,
            user_id=user.id,
            now=now,
            reason="password replaced",
            credential_id=old.id,
            except_id=keep_session_id,
        )
        event = Event.PASSWORD_CHANGED
    cred = Credential(
        kind=CredentialKind.PASSWORD,
        secret_hash=passwords.hash(new_password),
        details={"algorithm": "argon2id"},
    )
    return add(db, cred, user=user, client=client, now=now, actor=actor, mailer=mailer, event=event)


def _check_new_password(
    db: Session,
    passwords: Passwords,
    user: User,
    new_password: str,
    *,
    replacing: Credential | None,
) -> None:
    """SP 800-63B-4's rules for ``user``'s new password, the one check every way of setting a
    password goes through (enrolment link, account page, password change, CLI): the minimum
    length depends on whether another credential, besides the password it replaces, can sign
    in; the person's names, e-mail address and the site's name are context words."""
    others = usable_count(db, user.id, excluding=replacing.id if replacing is not None else None)
    check_policy(
        new_password,
        has_other_credential=others > 0,
        username=user.username,
        context=(user.display_name, user.email, passwords.site_name),
    )


def change_password(
    db: Session,
    passwords: Passwords,
    *,
    user: User,
    current_password: str,
    new_password: str,
    client: Client,
    now: datetime,
    mailer: Mailer = NULL_MAILER,
    keep_session_id: int | None = None,
) -> Credential:
    """Change a password; the current one is required (SP 800-63B-4 §3.1.1.2).

    Raises:
        WrongCurrentPassword: the current password is wrong (and what, if anything, is wrong
            with the new one).
        PasswordPolicyError: the new one breaks a rule.
    """
    old = live_password(db, user.id)
    if (
        old is None
        or old.secret_hash is None
        or not passwords.verify(old.secret_hash, current_password)
    ):
        try:
            _check_new_password(db, passwords, user, new_password, replacing=old)
            problem = None
        except PasswordPolicyError as exc:
            problem = exc.message
        record(
            db,
            Event.PASSWORD_CHANGE_FAILURE,
            client=client,
            success=False,
            user=user,
            credential=old,
            method="password",
            reason="wrong_current_password",
        )
        db.commit()
        raise WrongCurrentPassword(new_password_problem=problem)
    return set_password(
        db,
        passwords,
        user=user,
        new_password=new_password,
        client=client,
        now=now,
        mailer=mailer,
        keep_session_id=keep_session_id,
    )


def rename(
    db: Session,
    credential: Credential,
    label: str,
    *,
    client: Client,
    now: datetime,
    mailer: Mailer = NULL_MAILER,
) -> None:
    old = credential.display_name
    credential.label = clean_label(label)
    record(
        db,
        Event.CREDENTIAL_RENAMED,
        client=client,
        success=True,
        user=credential.user,
        credential=credential,
        method=str(credential.kind),
        details={"from": old, "to": credential.label},
    )
    notify(
        db,
        credential.user,
        str(Event.CREDENTIAL_RENAMED),
        f"{_sentence(credential.kind_noun)} of your account was renamed: {old} is now "
        f"{credential.display_name}.",
        mailer=mailer,
    )
    db.commit()


def remove(
    db: Session,
    credential: Credential,
    *,
    client: Client,
    now: datetime,
    reason: str = "removed by user",
    actor: User | None = None,
    allow_last: bool = False,
    mailer: Mailer = NULL_MAILER,
    keep_session_id: int | None = None,
) -> int:
    """Revoke a credential and end the sessions it opened; returns how many sessions ended.

    ``keep_session_id``: the owner's own session, which goes on when they remove the
    credential it was opened with (any other session it opened ends).

    The last credential that can still sign in cannot be removed by its owner (threat model
    F.24); an administrator revoking a compromised key may (``allow_last``).
    """
    if credential.revoked_at is not None:
        raise CredentialError("already_removed", "This credential was already removed.")
    user = credential.user
    if not allow_last and usable_count(db, user.id, excluding=credential.id) == 0:
        record(
            db,
            Event.CREDENTIAL_REFUSED,
            client=client,
            success=False,
            user=user,
            credential=credential,
            method=str(credential.kind),
            reason="last_credential",
            actor=actor,
        )
        db.commit()
        raise CredentialError(
            "last_credential",
            "This is your only way to sign in. Add another credential before removing it.",
        )
    credential.revoked_at = now
    credential.revoked_reason = reason[:200]
    ended = sessions.end_all(
        db,
        user_id=user.id,
        now=now,
        reason="credential revoked",
        credential_id=credential.id,
        except_id=keep_session_id,
    )
    record(
        db,
        Event.CREDENTIAL_REMOVED,
        client=client,
        success=True,
        user=user,
        credential=credential,
        method=str(credential.kind),
        reason=reason[:64],
        actor=actor,
        details={"sessions_ended": ended, "label": credential.display_name},
    )
    what = (
        "Your password was removed"
        if credential.kind is CredentialKind.PASSWORD
        else f"{_sentence(credential.kind_noun)} was removed from your account: "
        f"{credential.display_name}"
    )
    notify(db, user, str(Event.CREDENTIAL_REMOVED), what + ".", mailer=mailer)
    db.commit()
    return ended


def record_sign_in(
    db: Session,
    credential: Credential,
    *,
    client: Client,
    now: datetime,
    sign_count: int | None = None,
    backup_state: bool | None = None,
) -> None:
    """:func:`record_use` of a loaded credential; the loaded objects are brought up to date
    without being marked changed."""
    values = record_use(
        db,
        credential_id=credential.id,
        user_id=credential.user_id,
        client=client,
        now=now,
        sign_count=credential.sign_count if sign_count is None else sign_count,
        backup_state=(credential.backup_state if backup_state is None else backup_state),
    )
    for key, value in values.items():
        set_committed_value(credential, key, value)
    set_committed_value(credential.user, "last_sign_in_at", now)
    set_committed_value(credential.user, "updated_at", now)


def record_use(
    db: Executor,
    *,
    credential_id: int,
    user_id: int,
    client: Client,
    now: datetime,
    sign_count: int | None,
    backup_state: bool | None,
) -> dict[str, object]:
    """Note a successful sign-in with a credential: its last use (and, for a passkey, the
    new signature counter and backup state, WebAuthn §7.2 steps 21-24) and the owner's last
    sign-in, in the caller's transaction.

    Two plain UPDATEs rather than the ORM's unit of work (this runs on every sign-in).

    Returns:
        The credential's new values.
    """
    values: dict[str, object] = {
        "last_used_at": now,
        "last_used_address": client.address[:64] or None,
        "sign_count": sign_count,
        "backup_state": backup_state,
    }
    conn = connection_of(db)
    conn.execute(_RECORD_USE, {"credential_id": credential_id, **values})
    conn.execute(_RECORD_SIGN_IN, {"user_id": user_id, "last_sign_in_at": now, "updated_at": now})
    return values


def flag_clone(
    db: Session,
    credential: Credential,
    *,
    client: Client,
    now: datetime,
    details: dict[str, object],
    mailer: Mailer = NULL_MAILER,
) -> None:
    """Mark a passkey whose signature counter went backwards (WebAuthn §6.1.1)."""
    credential.clone_flagged_at = now
    record(
        db,
        Event.CREDENTIAL_CLONE_FLAGGED,
        client=client,
        success=False,
        user=credential.user,
        credential=credential,
        method="passkey",
        reason="counter_regression",
        details=details,
    )
    notify(
        db,
        credential.user,
        str(Event.CREDENTIAL_CLONE_FLAGGED),
        f"Your passkey {credential.display_name} may have been copied: its counter went "
        "backwards. Sign-in with it was refused.",
        mailer=mailer,
    )
    db.commit()

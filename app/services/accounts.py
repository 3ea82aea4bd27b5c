"""Users, account requests and enrolment links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, aliased

from app.models import (
    AccountRequest,
    Credential,
    CredentialKind,
    OneTimeToken,
    RequestStatus,
    Role,
    TokenPurpose,
    User,
    UserStatus,
    normalize_username,
)
from app.services import tokens
from app.services.audit import Client, Event, record
from app.services.errors import ServiceError
from app.services.notices import NULL_MAILER, Mailer, notify

ENROLMENT_LIFETIME = timedelta(hours=72)
#: letters and digits of any script, and . _ - @ inside; 1-64 characters after NFKC
_USERNAME = re.compile(r"^[^\W_](?:[\w.@-]{0,62}[^\W_])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class AccountError(ServiceError):
    """An account change was refused; ``field`` names the form field at fault, if any."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message)
        self.field = field
        #: every problem found, this one first: a form shows them all at once
        self.errors: list[AccountError] = [self]

    @classmethod
    def of(cls, errors: list[AccountError]) -> AccountError:
        first = errors[0]
        first.errors = list(errors)
        return first


def validate_username(raw: str) -> str:
    """The username as it will be stored, or AccountError saying what is wrong."""
    name = " ".join(raw.split())
    if not _USERNAME.fullmatch(normalize_username(name)):
        raise AccountError(
            "bad_username",
            "Use 1 to 64 letters or digits; dots, dashes, underscores and @ may join them.",
            "username",
        )
    return name


def validate_email(raw: str) -> str:
    email = raw.strip()
    if email and (len(email) > 254 or not _EMAIL.fullmatch(email)):
        raise AccountError("bad_email", "Enter an e-mail address like name@example.org.", "email")
    return email


def _searchable(username: str) -> bool:
    """A name that can match a stored one: bounded, and free of NUL (which PostgreSQL
    refuses in text) and other control characters (which valid names never contain)."""
    return 0 < len(username) <= 256 and username.isprintable()


def find_user(db: Session, username: str) -> User | None:
    if not _searchable(username):
        return None
    return db.scalar(select(User).where(User.username_normalized == normalize_username(username)))


#: built once: building an ORM statement costs as much as running it
_PASSWORD = aliased(Credential)
#: The live password is joined by its id from a correlated subquery: SQLite plans a join
#: with the credential conditions in it far worse (bench/password_login.py shows it).
_USER_WITH_PASSWORD = (
    select(User, Credential)
    .outerjoin(
        Credential,
        Credential.id
        == (
            select(_PASSWORD.id)
            .where(
                _PASSWORD.user_id == User.id,
                _PASSWORD.kind == CredentialKind.PASSWORD,
                _PASSWORD.revoked_at.is_(None),
            )
            .correlate(User)
            .scalar_subquery()
        ),
    )
    .where(User.username_normalized == bindparam("username"))
)


def find_user_with_password(db: Session, username: str) -> tuple[User | None, Credential | None]:
    """The user and their live password credential, in one query (the sign-in hot path)."""
    if not _searchable(username):
        return None, None
    row = db.execute(_USER_WITH_PASSWORD, {"username": normalize_username(username)}).first()
    if row is None:
        return None, None
    return row[0], row[1]


def create_user(
    db: Session,
    *,
    username: str,
    client: Client,
    now: datetime,
    display_name: str = "",
    email: str = "",
    role: Role = Role.USER,
    actor: User | None = None,
) -> User:
    name = validate_username(username)
    if find_user(db, name) is not None:
        raise AccountError("username_taken", "That username is taken.", "username")
    user = User(
        username=name,
        username_normalized=normalize_username(name),
        display_name=display_name.strip()[:128] or name,
        email=validate_email(email),
        role=role,
        status=UserStatus.ACTIVE,
        created_at=now,
    )
    db.add(user)
    db.flush()
    record(
        db,
        Event.USER_CREATED,
        client=client,
        success=True,
        user=user,
        actor=actor,
        details={"role": str(role)},
    )
    return user


def issue_enrolment_link(
    db: Session, user: User, *, client: Client, now: datetime, actor: User | None = None
) -> str:
    """A one-time secret that lets ``user`` set up a credential; previous links stop working."""
    for old in db.scalars(
        select(OneTimeToken).where(
            OneTimeToken.user_id == user.id,
            OneTimeToken.purpose == str(TokenPurpose.ENROLMENT),
            OneTimeToken.used_at.is_(None),
        )
    ):
        old.used_at = now
    secret = tokens.issue(
        db, TokenPurpose.ENROLMENT, now=now, lifetime=ENROLMENT_LIFETIME, user_id=user.id
    )
    record(db, Event.ENROLMENT_LINK_ISSUED, client=client, success=True, user=user, actor=actor)
    return secret


@dataclass(frozen=True)
class RequestForm:
    username: str
    display_name: str
    email: str
    message: str


def request_account(db: Session, form: RequestForm, *, client: Client, now: datetime) -> None:
    """Store a request. It answers the same whether or not the name exists (no enumeration),
    and never binds anything to an existing account (threat model F.25)."""
    problems: list[AccountError] = []
    name = email = ""
    try:
        name = validate_username(form.username)
    except AccountError as exc:
        problems.append(exc)
    try:
        email = validate_email(form.email)
    except AccountError as exc:
        problems.append(exc)
    if problems:
        raise AccountError.of(problems)
    req = AccountRequest(
        username=name,
        username_normalized=normalize_username(name),
        display_name=form.display_name.strip()[:128],
        email=email,
        message=form.message.strip()[:2000],
        address=client.address[:64],
        created_at=now,
    )
    db.add(req)
    db.flush()
    record(
        db,
        Event.ACCOUNT_REQUESTED,
        client=client,
        success=True,
        details={"request_id": req.id, "username": name},
    )
    db.commit()


def pending_count(db: Session) -> int:
    return int(
        db.scalar(
            select(func.count())
            .select_from(AccountRequest)
            .where(AccountRequest.status == RequestStatus.PENDING)
        )
        or 0
    )


def pending_requests(db: Session) -> list[AccountRequest]:
    return list(
        db.scalars(
            select(AccountRequest)
            .where(AccountRequest.status == RequestStatus.PENDING)
            .order_by(AccountRequest.created_at)
        )
    )


@dataclass(frozen=True)
class PendingRequest:
    """A waiting request, and whether an account already has its username: the visitor got
    the same answer either way (no enumeration); the administrator must see the clash."""

    request: AccountRequest
    username_taken: bool


def pending_with_clashes(db: Session) -> list[PendingRequest]:
    waiting = pending_requests(db)
    names = {r.username_normalized for r in waiting}
    taken = (
        set(db.scalars(select(User.username_normalized).where(User.username_normalized.in_(names))))
        if names
        else set()
    )
    return [PendingRequest(r, r.username_normalized in taken) for r in waiting]


def approve_request(
    db: Session,
    request_id: int,
    *,
    client: Client,
    now: datetime,
    actor: User | None = None,
    username: str | None = None,
    mailer: Mailer = NULL_MAILER,
) -> tuple[User, str]:
    """Create the account and return it with its enrolment secret.

    ``username``: another name than the one asked for (which an account may already have);
    the person is told, on their account page and by e-mail when configured, and the
    set-up page greets them by it.
    """
    req = db.get(AccountRequest, request_id)
    if req is None or req.status != RequestStatus.PENDING:
        raise AccountError("no_such_request", f"No pending account request #{request_id}.")
    name = (username or "").strip() or req.username
    renamed = normalize_username(name) != req.username_normalized
    user = create_user(
        db,
        username=name,
        display_name=req.display_name,
        email=req.email,
        client=client,
        now=now,
        actor=actor,
    )
    req.status = RequestStatus.APPROVED
    req.decided_at = now
    req.decided_by_id = actor.id if actor else None
    req.user_id = user.id
    secret = issue_enrolment_link(db, user, client=client, now=now, actor=actor)
    details: dict[str, object] = {"request_id": req.id}
    if renamed:
        details["requested_username"] = req.username
        notify(
            db,
            user,
            str(Event.ACCOUNT_REQUEST_APPROVED),
            f"Your account request was approved with the username {user.username}: "
            f"{req.username}, the one you asked for, was not available.",
            mailer=mailer,
        )
    record(
        db,
        Event.ACCOUNT_REQUEST_APPROVED,
        client=client,
        success=True,
        user=user,
        actor=actor,
        details=details,
    )
    db.commit()
    return user, secret


def reject_request(
    db: Session, request_id: int, *, client: Client, now: datetime, actor: User | None = None
) -> AccountRequest:
    req = db.get(AccountRequest, request_id)
    if req is None or req.status != RequestStatus.PENDING:
        raise AccountError("no_such_request", f"No pending account request #{request_id}.")
    req.status = RequestStatus.REJECTED
    req.decided_at = now
    req.decided_by_id = actor.id if actor else None
    record(
        db,
        Event.ACCOUNT_REQUEST_REJECTED,
        client=client,
        success=True,
        actor=actor,
        details={"request_id": req.id, "username": req.username},
    )
    db.commit()
    return req


def set_status(
    db: Session, user: User, status: UserStatus, *, client: Client, now: datetime, actor: User
) -> None:
    """Disable or re-enable an account; disabling ends its sessions at once."""
    from app.services import sessions

    user.status = status
    if status is UserStatus.DISABLED:
        sessions.end_all(db, user_id=user.id, now=now, reason="user disabled")
    event = Event.USER_DISABLED if status is UserStatus.DISABLED else Event.USER_ENABLED
    record(db, event, client=client, success=True, user=user, actor=actor)
    db.commit()

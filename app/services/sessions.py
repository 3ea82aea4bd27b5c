"""Server-side sessions (OWASP ASVS V7): random ids, stored hashed, idle and absolute timeouts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, insert, select, update
from sqlalchemy.orm import Session, joinedload, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.models import (
    AuthSession,
    Credential,
    CredentialKind,
    User,
    UserStatus,
    table_of,
)
from app.models.base import connection_of
from app.services import groups, sign_in_notices, tokens
from app.services.audit import Client, Event, Identified, record
from app.services.notices import NULL_MAILER, Mailer

#: how stale ``last_seen_at`` may get before a request writes it again
TOUCH_INTERVAL = timedelta(seconds=60)

_SESSIONS = table_of(AuthSession)
_INSERT = insert(_SESSIONS).returning(_SESSIONS.c.id)
#: the session, its user (joined by the model) and its credential in one query: the gate
#: reads the credential's strength on every check, certificate sessions its key
_BY_TOKEN = (
    select(AuthSession)
    .options(joinedload(AuthSession.credential))
    .where(AuthSession.token_hash == bindparam("token_hash"))
)
#: what a live session is judged by (and ``GET /api/session`` tells): the session, its
#: user and its credential, as one plain row (no ORM objects: read on every check)
LIVE_COLUMNS = (
    AuthSession.id,
    AuthSession.method,
    AuthSession.credential_id,
    AuthSession.revoked_at,
    AuthSession.expires_at,
    AuthSession.last_seen_at,
    User.username,
    User.status,
    Credential.kind,
    Credential.lookup_key,
)
#: what the gate reports of the person behind a live session, in the same query
#: (:func:`app.services.gate.identity_of_session`)
IDENTITY_COLUMNS = (
    AuthSession.created_at,
    AuthSession.user_id,
    User.username_normalized,
    User.role,
    User.email,
    User.display_name,
    Credential.revoked_at.label("credential_revoked_at"),
    Credential.strength_flag,
    groups.names_of(AuthSession.user_id),
)


def live_select(*extra: Any) -> Select[*tuple[Any, ...]]:
    """``SELECT`` :data:`LIVE_COLUMNS` (and ``extra``) from a session, its user and its
    credential; the caller adds how the session is found."""
    return (
        select(*LIVE_COLUMNS, *extra)
        .select_from(AuthSession)
        .join(User, User.id == AuthSession.user_id)
        .outerjoin(Credential, Credential.id == AuthSession.credential_id)
    )


_BY_HASH = AuthSession.token_hash == bindparam("token_hash")
_PEEK = live_select().where(_BY_HASH)
_PEEK_IDENTITY = live_select(*IDENTITY_COLUMNS).where(_BY_HASH)
_TOUCH = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(last_seen_at=bindparam("now"))
)


@dataclass(frozen=True)
class Timeouts:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class KeyBinding:
    """A request on which a session opened with a certificate holds only if the request
    shows that certificate's key: where the proxy forwards the client certificate with every
    request (the gate; Keystile's pages in ``auto`` mode). A cookie copied off the browser
    is then worth nothing without the private key (RFC 8705 §3 binds tokens to a client
    certificate the same way). ``presented`` gives the SPKI SHA-256 (hex) of the
    certificate the request shows (None: none); both are asked only when needed."""

    presented: Callable[[], str | None]
    client: Callable[[], Client]


class KeyNotPresented(Exception):
    """:func:`peek` found a live session bound to a key this request does not show."""


@dataclass(frozen=True)
class Opened:
    """A session just stored: the cookie value (shown once) and its row's values."""

    secret: str
    id: int
    values: dict[str, object]

    def row(self, db: Session, user: User, credential: Credential | None) -> AuthSession:
        """The session of ``user`` (by ``credential``) as an ORM row in ``db``, known to be
        stored already (ending it later in the request is written as usual). Only a caller
        that keeps using it needs one."""
        row = AuthSession(id=self.id, **self.values)
        make_transient_to_detached(row)
        set_committed_value(row, "user", user)
        set_committed_value(row, "credential", credential)
        db.add(row)
        return row


def start(
    db: Session,
    *,
    user: Identified,
    credential: Identified | None,
    method: str,
    client: Client,
    now: datetime,
    timeouts: Timeouts,
) -> Opened:
    """Open a new session in the caller's transaction: one INSERT ... RETURNING."""
    secret = tokens.new_secret()
    values: dict[str, object] = {
        "token_hash": tokens.digest(secret),
        "user_id": user.id,
        "credential_id": credential.id if credential is not None else None,
        "method": method,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + timeouts.absolute,
        "address": client.address[:64],
        "user_agent": client.user_agent[:512],
        "revoked_at": None,
        "revoked_reason": None,
    }
    session_id = connection_of(db).execute(_INSERT, values).scalar_one()
    return Opened(secret, session_id, values)


def open_for_sign_in(
    db: Session,
    *,
    user: Identified,
    credential: Identified | None,
    method: str,
    client: Client,
    now: datetime,
    timeouts: Timeouts,
    replacing: AuthSession | None = None,
    mailer: Mailer = NULL_MAILER,
    credential_used_before: bool = False,
) -> Opened:
    """The session a successful sign-in opens; commits the sign-in's transaction.

    The browser's previous session ends (threat model E.20: every sign-in gets a new id),
    and a first sign-in by a new method is told to the user (:mod:`sign_in_notices`). A
    credential that signed in before (``credential_used_before``, known to the caller
    before it recorded this use) did so by this method: nothing to look up.
    """
    if replacing is not None:
        end(db, replacing, now=now, reason="replaced by new sign-in")
    if not credential_used_before:
        sign_in_notices.notify_if_new_method(db, user, method, mailer=mailer)
    opened = start(
        db,
        user=user,
        credential=credential,
        method=method,
        client=client,
        now=now,
        timeouts=timeouts,
    )
    db.commit()
    return opened


def _is_live(
    *,
    revoked_at: datetime | None,
    expires_at: datetime,
    last_seen_at: datetime,
    user_active: bool,
    now: datetime,
    timeouts: Timeouts,
) -> bool:
    return (
        revoked_at is None
        and now < expires_at
        and now - last_seen_at < timeouts.idle
        and user_active
    )


def holds_key(
    *, method: str, kind: CredentialKind | None, lookup_key: str | None, binding: KeyBinding
) -> bool:
    """Whether a session opened by ``method`` with that credential holds on a request that
    enforces ``binding``: any session not opened with a certificate does; one opened with a
    certificate only when the request shows the same key (SPKI SHA-256, the credential's
    ``lookup_key``). A certificate session whose credential is gone holds nowhere."""
    if method != "certificate":
        return True
    return (
        kind == CredentialKind.CERTIFICATE
        and lookup_key is not None
        and binding.presented() == lookup_key
    )


def keeps_key(db: Session, row: AuthSession, *, binding: KeyBinding | None, now: datetime) -> bool:
    """:func:`holds_key` for a loaded session; when it does not hold, the first time for
    this session writes ``auth:session:binding_mismatch`` (commits)."""
    if binding is None or row.method != "certificate":
        return True  # without loading the credential: most sessions are not bound
    credential = row.credential
    if holds_key(
        method=row.method,
        kind=credential.kind if credential else None,
        lookup_key=credential.lookup_key if credential else None,
        binding=binding,
    ):
        return True
    # Once per session, also with several workers: only the update that sets the mark audits.
    marked = db.execute(
        update(AuthSession)
        .where(AuthSession.id == row.id, AuthSession.key_mismatch_at.is_(None))
        .values(key_mismatch_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(marked, "rowcount", 0) == 1:
        record(
            db,
            Event.SESSION_KEY_MISMATCH,
            client=binding.client(),
            success=False,
            user=row.user,
            credential=credential,
            method=row.method,
            reason="key_not_presented",
            details={"session": row.id},
        )
    db.commit()
    return False


def resolve(
    db: Session,
    secret: str,
    *,
    now: datetime,
    timeouts: Timeouts,
    binding: KeyBinding | None = None,
) -> AuthSession | None:
    """The live session for a cookie value, or None (expired, idle, revoked, unknown, or
    bound to a certificate's key this request does not show: :func:`keeps_key`)."""
    if not secret or len(secret) > 128:
        return None
    row = db.scalar(_BY_TOKEN, {"token_hash": tokens.digest(secret)})
    if row is None or not _is_live(
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
        user_active=row.user.is_active,
        now=now,
        timeouts=timeouts,
    ):
        return None
    if not keeps_key(db, row, binding=binding, now=now):
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        db.commit()
    return row


def peek_live(
    conn: Connection,
    secret: str,
    *,
    now: datetime,
    timeouts: Timeouts,
    binding: KeyBinding | None = None,
    with_identity: bool = False,
) -> Row[Any] | None:
    """The session :func:`resolve` would find, as one plain row of :data:`LIVE_COLUMNS`
    (and :data:`IDENTITY_COLUMNS` ``with_identity``) read on a plain connection
    (``GET /api/session`` and the gate's checks need columns, not loaded objects in an ORM
    session); None if none is live. Touches it as :func:`resolve` does.

    Raises:
        KeyNotPresented: the session is live but bound to a key this request does not show;
            the caller hands the request to :func:`resolve`, which audits it.
    """
    if not secret or len(secret) > 128:
        return None
    statement = _PEEK_IDENTITY if with_identity else _PEEK
    found = conn.execute(statement, {"token_hash": tokens.digest(secret)}).first()
    if found is None or not row_is_live(found, now=now, timeouts=timeouts, binding=binding):
        return None
    if now - found.last_seen_at >= TOUCH_INTERVAL:
        touch(conn, found.id, now=now)
        conn.commit()
    return found


def row_is_live(
    found: Row[Any], *, now: datetime, timeouts: Timeouts, binding: KeyBinding | None
) -> bool:
    """:func:`resolve`'s judgement of a row of :data:`LIVE_COLUMNS`.

    Raises:
        KeyNotPresented: live, but bound to a key this request does not show.
    """
    if not _is_live(
        revoked_at=found.revoked_at,
        expires_at=found.expires_at,
        last_seen_at=found.last_seen_at,
        user_active=found.status is UserStatus.ACTIVE,
        now=now,
        timeouts=timeouts,
    ):
        return False
    if binding is not None and not holds_key(
        method=found.method, kind=found.kind, lookup_key=found.lookup_key, binding=binding
    ):
        raise KeyNotPresented
    return True


def touch(conn: Connection, session_id: int, *, now: datetime) -> None:
    """Write a session's ``last_seen_at`` (the caller commits)."""
    conn.execute(_TOUCH, {"session_id": session_id, "now": now})


def peek(
    conn: Connection,
    secret: str,
    *,
    now: datetime,
    timeouts: Timeouts,
    binding: KeyBinding | None = None,
) -> dict[str, object] | None:
    """:func:`describe` of :func:`peek_live`'s session; None if none is live.

    Raises:
        KeyNotPresented: as :func:`peek_live`.
    """
    found = peek_live(conn, secret, now=now, timeouts=timeouts, binding=binding)
    if found is None:
        return None
    return _described(found.username, found.method, found.credential_id)


def describe(row: AuthSession | None) -> dict[str, object]:
    """What ``GET /api/session`` tells a browser about its session."""
    if row is None:
        return {"authenticated": False}
    return _described(row.user.username, row.method, row.credential_id)


def _described(username: str, method: str, credential_id: int | None) -> dict[str, object]:
    return {
        "authenticated": True,
        "username": username,
        "method": method,
        "credential_id": credential_id,
    }


def end(db: Session, row: AuthSession, *, now: datetime, reason: str) -> None:
    """Revoke one session (the caller commits)."""
    row.revoked_at = now
    row.revoked_reason = reason


def end_all(
    db: Session,
    *,
    user_id: int,
    now: datetime,
    reason: str,
    except_id: int | None = None,
    credential_id: int | None = None,
) -> int:
    """Revoke a user's live sessions (or those opened by one credential); the caller commits."""
    stmt = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if except_id is not None:
        stmt = stmt.where(AuthSession.id != except_id)
    if credential_id is not None:
        stmt = stmt.where(AuthSession.credential_id == credential_id)
    result = db.execute(
        stmt.values(revoked_at=now, revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0))


def live_for_user(db: Session, user_id: int, *, now: datetime) -> list[AuthSession]:
    return list(
        db.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
            )
            .order_by(AuthSession.last_seen_at.desc())
        )
    )


def is_live(row: AuthSession, *, now: datetime, timeouts: Timeouts) -> bool:
    """Whether a loaded session would still be found by :func:`resolve`."""
    return _is_live(
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        last_seen_at=row.last_seen_at,
        user_active=row.user.is_active,
        now=now,
        timeouts=timeouts,
    )

"""The sign-in paths' plain statements (no ORM objects: tokens, audit rows, the session row
and its check, the credential's and the user's last use, the stored credential read): they
run through SQLAlchemy's ``Connection.execute``, so its cursor events, ``echo`` and SQL
logging see every one, in the caller's transaction, with SQLAlchemy's types and errors; on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from app.db import engine_of
from app.models import AuthSession, OneTimeToken, TokenPurpose, User
from app.services import audit, credentials, sessions, stored, tokens
from app.services.audit import Client, Event
from tests.conftest import make_user
from tests.support.factories import certificate, passkey

NOW = datetime(2026, 11, 27, 12, 30, 45, 123456, tzinfo=UTC)
CLIENT = Client(address="192.0.2.7", user_agent="pytest", request_id="r-1")
TIMEOUTS = sessions.Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def test_cursor_events_see_every_statement_of_a_sign_in(db: Session, app: Flask) -> None:
    user = make_user(db, app)
    key = passkey(db, user, synced=False)
    pinned = certificate(db, user)
    db.commit()
    seen: list[str] = []

    def before_cursor_execute(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    engine = engine_of(app)
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        read_key = stored.find_passkey(db, key.lookup_key or "")
        read_pin = stored.find_certificate(db, pinned.lookup_key or "")
        secret = tokens.issue(
            db,
            TokenPurpose.WEBAUTHN_AUTHENTICATION,
            now=NOW,
            lifetime=timedelta(minutes=5),
            payload={"ceremony": "authentication"},
        )
        spent = tokens.consume(db, TokenPurpose.WEBAUTHN_AUTHENTICATION, secret, now=NOW)
        credentials.record_sign_in(
            db, key, client=CLIENT, now=NOW, sign_count=7, backup_state=False
        )
        audit.record(
            db,
            Event.PASSKEY_SUCCESS,
            client=CLIENT,
            success=True,
            user=user,
            credential=key,
            method="passkey",
            details={"backup_state": False},
        )
        opened = sessions.start(
            db,
            user=user,
            credential=key,
            method="passkey",
            client=CLIENT,
            now=NOW,
            timeouts=TIMEOUTS,
        )
        db.commit()
        with engine.connect() as conn:
            described = sessions.peek(
                conn, opened.secret, now=NOW + timedelta(minutes=2), timeouts=TIMEOUTS
            )  # and touches last_seen_at
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)

    assert [s for s in seen if s.startswith(("INSERT", "UPDATE"))] == [
        "INSERT INTO one_time_tokens",
        "UPDATE one_time_tokens SET",
        "UPDATE credentials SET",
        "UPDATE users SET",
        "INSERT INTO audit_events",
        "INSERT INTO sessions",
        "UPDATE sessions SET",
    ]
    assert sum(s.startswith("SELECT") for s in seen) >= 3  # two credentials, one session
    assert read_key is not None and read_key.public_key == key.public_key
    assert read_key.user.user_handle == user.user_handle and read_key.user.is_active
    assert read_pin is not None and read_pin.user.username == "alice" and read_pin.proven
    assert spent is not None and spent.payload == {"ceremony": "authentication"}
    assert described == {
        "authenticated": True,
        "username": "alice",
        "method": "passkey",
        "credential_id": key.id,
    }
    db.expire_all()
    row = db.get(AuthSession, opened.id)
    assert row is not None and row.last_seen_at == NOW + timedelta(minutes=2)
    assert row.created_at == NOW and row.address == "192.0.2.7"
    db.refresh(key)
    assert key.sign_count == 7 and key.last_used_at == NOW
    assert db.get(User, user.id).last_sign_in_at == NOW  # type: ignore[union-attr]


def test_the_sign_count_never_goes_backwards(db: Session, app: Flask) -> None:
    """WebAuthn §6.1.1: two assertions verified at once must not lower the stored counter."""
    user = make_user(db, app)
    key = passkey(db, user, synced=False)
    db.commit()
    credentials.record_sign_in(db, key, client=CLIENT, now=NOW, sign_count=9, backup_state=False)
    credentials.record_sign_in(db, key, client=CLIENT, now=NOW, sign_count=4, backup_state=False)
    db.commit()
    db.refresh(key)
    assert key.sign_count == 9 and key.last_used_at == NOW


def test_json_goes_in_and_comes_back(db: Session) -> None:
    payload = {"challenge": "abc", "nested": [1, {"x": None}], "text": "ünï"}
    secret = tokens.issue(
        db,
        TokenPurpose.WEBAUTHN_REGISTRATION,
        now=NOW,
        lifetime=timedelta(minutes=5),
        payload=payload,
    )
    spent = tokens.consume(db, TokenPurpose.WEBAUTHN_REGISTRATION, secret, now=NOW)
    assert spent is not None and spent.payload == payload
    assert tokens.consume(db, TokenPurpose.WEBAUTHN_REGISTRATION, secret, now=NOW) is None


def test_work_on_a_plain_connection_is_kept_only_when_committed(app: Flask) -> None:
    engine = engine_of(app)
    with engine.connect() as conn:
        kept = tokens.issue(
            conn, TokenPurpose.WEBAUTHN_AUTHENTICATION, now=NOW, lifetime=timedelta(minutes=5)
        )
        conn.commit()
        dropped = tokens.issue(
            conn, TokenPurpose.WEBAUTHN_AUTHENTICATION, now=NOW, lifetime=timedelta(minutes=5)
        )  # closed without a commit
    with engine.connect() as conn:
        hashes = conn.execute(select(OneTimeToken.token_hash)).scalars().all()
    assert hashes == [tokens.digest(kept)]
    assert tokens.digest(dropped) not in hashes


def test_driver_errors_are_sqlalchemy_s_and_the_session_goes_on(db: Session) -> None:
    from sqlalchemy import insert

    from app.models import table_of

    values = {
        "token_hash": "same",
        "purpose": "test",
        "user_id": None,
        "credential_id": None,
        "payload": {},
        "created_at": NOW,
        "expires_at": NOW,
        "used_at": None,
    }
    issue = insert(table_of(OneTimeToken))
    db.connection().execute(issue, values)
    db.commit()
    with pytest.raises(IntegrityError):
        db.connection().execute(issue, values)
    db.rollback()
    assert tokens.issue(
        db, TokenPurpose.WEBAUTHN_AUTHENTICATION, now=NOW, lifetime=timedelta(minutes=5)
    )
    db.commit()


def test_a_value_its_type_refuses_is_a_statement_error(db: Session) -> None:
    naive = datetime(2026, 11, 27, 12, 0)  # UTCDateTime takes aware datetimes only
    with pytest.raises(StatementError, match="naive datetime"):
        tokens.issue(
            db, TokenPurpose.WEBAUTHN_AUTHENTICATION, now=naive, lifetime=timedelta(minutes=5)
        )

"""app.models.prepared: the sign-in paths' statements, run on the driver's cursor, give what
``Connection.execute`` gives, in the same transaction, with the same errors; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Connection, bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session

from app.db import engine_of
from app.models import AuthSession, OneTimeToken, TokenPurpose, User, UserStatus, table_of
from app.models.prepared import Prepared
from app.services import audit, credentials, sessions, stored, tokens
from app.services.audit import Client, Event
from tests.conftest import make_user
from tests.support.factories import certificate, passkey

NOW = datetime(2026, 11, 27, 12, 30, 45, 123456, tzinfo=UTC)
CLIENT = Client(address="192.0.2.7", user_agent="pytest", request_id="r-1")
TIMEOUTS = sessions.Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def test_a_sign_in_s_statements_go_straight_to_the_driver(
        db: Session, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user(db, app)
    key = passkey(db, user, synced=False)
    pinned = certificate(db, user)
    db.commit()
    monkeypatch.setattr(Connection, "execute", _refuse)
    read_key = stored.find_passkey(db, key.lookup_key or "")
    read_pin = stored.find_certificate(db, pinned.lookup_key or "")
    secret = tokens.issue(db, TokenPurpose.WEBAUTHN_AUTHENTICATION, now=NOW,
                          lifetime=timedelta(minutes=5), payload={"ceremony": "authentication"})
    spent = tokens.consume(db, TokenPurpose.WEBAUTHN_AUTHENTICATION, secret, now=NOW)
    credentials.record_sign_in(db, key, client=CLIENT, now=NOW, sign_count=7,
                               backup_state=False)
    audit.record(db, Event.PASSKEY_SUCCESS, client=CLIENT, success=True, user=user,
                 credential=key, method="passkey", details={"backup_state": False})
    opened = sessions.start(db, user=user, credential=key, method="passkey", client=CLIENT,
                            now=NOW, timeouts=TIMEOUTS)
    db.commit()
    with engine_of(app).connect() as conn:
        seen = sessions.peek(conn, opened.secret, now=NOW + timedelta(minutes=2),
                             timeouts=TIMEOUTS)  # and touches last_seen_at
    monkeypatch.undo()

    assert read_key is not None and read_key.public_key == key.public_key
    assert read_key.user.user_handle == user.user_handle and read_key.user.is_active
    assert read_pin is not None and read_pin.user.username == "alice" and read_pin.proven
    assert spent is not None and spent.payload == {"ceremony": "authentication"}
    assert seen == {"authenticated": True, "username": "alice", "method": "passkey",
                    "credential_id": key.id}
    db.expire_all()
    row = db.get(AuthSession, opened.id)
    assert row is not None and row.last_seen_at == NOW + timedelta(minutes=2)
    assert row.created_at == NOW and row.address == "192.0.2.7"
    db.refresh(key)
    assert key.sign_count == 7 and key.last_used_at == NOW
    assert db.get(User, user.id).last_sign_in_at == NOW  # type: ignore[union-attr]


def _refuse(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"went through Connection.execute: {statement}")


def test_rows_carry_the_types_sqlalchemy_gives(db: Session, app: Flask) -> None:
    user = make_user(db, app)
    db.commit()
    opened = sessions.start(db, user=user, credential=None, method="password", client=CLIENT,
                            now=NOW, timeouts=TIMEOUTS)
    db.commit()
    statement = (select(AuthSession.id, AuthSession.revoked_at, AuthSession.expires_at,
                        User.username, User.status, User.last_sign_in_at)
                 .join(User, User.id == AuthSession.user_id)
                 .where(AuthSession.token_hash == tokens.digest(opened.secret)))
    prepared = Prepared(statement).run(db)
    core = db.connection().execute(statement).all()

    assert [tuple(r) for r in prepared] == [tuple(r) for r in core]
    row = prepared[0]
    assert row.status is UserStatus.ACTIVE and row.revoked_at is None
    assert row.expires_at == NOW + TIMEOUTS.absolute and row.expires_at.tzinfo is UTC
    assert row.username == "alice" and row[0] == opened.id


def test_json_goes_in_and_comes_back(db: Session) -> None:
    payload = {"challenge": "abc", "nested": [1, {"x": None}], "text": "ünï"}
    secret = tokens.issue(db, TokenPurpose.WEBAUTHN_REGISTRATION, now=NOW,
                          lifetime=timedelta(minutes=5), payload=payload)
    spent = tokens.consume(db, TokenPurpose.WEBAUTHN_REGISTRATION, secret, now=NOW)
    assert spent is not None and spent.payload == payload
    assert tokens.consume(db, TokenPurpose.WEBAUTHN_REGISTRATION, secret, now=NOW) is None


def test_work_on_a_plain_connection_is_kept_only_when_committed(app: Flask) -> None:
    engine = engine_of(app)
    issue = Prepared(insert(table_of(OneTimeToken)))

    def row(token_hash: str) -> dict[str, object]:
        return {"token_hash": token_hash, "purpose": "test", "user_id": None,
                "credential_id": None, "payload": {}, "created_at": NOW,
                "expires_at": NOW, "used_at": None}

    with engine.connect() as conn:
        issue.run(conn, row("kept"))
        conn.commit()
        issue.run(conn, row("dropped"))  # the connection closes without a commit
    with engine.connect() as conn:
        hashes = conn.execute(select(table_of(OneTimeToken).c.token_hash)).scalars().all()
    assert hashes == ["kept"]


def test_a_statement_that_needs_python_defaults_takes_sqlalchemy_s_path(
        db: Session, app: Flask) -> None:
    user = make_user(db, app)
    db.commit()
    table = table_of(AuthSession)
    start = Prepared(insert(table).returning(table.c.id))
    names = ["token_hash", "user_id", "method", "expires_at"]  # created_at etc. left out
    assert not start.direct(db.connection().dialect, names)

    rows = start.run(db, {"token_hash": "t" * 64, "user_id": user.id, "method": "password",
                          "expires_at": NOW})
    db.commit()
    row = db.get(AuthSession, rows[0].id)
    assert row is not None and row.address == "" and row.created_at is not None


def test_driver_errors_are_sqlalchemy_s_and_the_session_goes_on(db: Session) -> None:
    issue = Prepared(insert(table_of(OneTimeToken)))
    values = {"token_hash": "same", "purpose": "test", "user_id": None, "credential_id": None,
              "payload": {}, "created_at": NOW, "expires_at": NOW, "used_at": None}
    assert issue.direct(db.connection().dialect, list(values))
    issue.run(db, values)
    db.commit()
    with pytest.raises(IntegrityError):
        issue.run(db, values)
    db.rollback()
    issue.run(db, {**values, "token_hash": "other"})
    db.commit()
    assert db.scalar(select(OneTimeToken.token_hash).where(
        OneTimeToken.token_hash == "other")) == "other"


def test_a_bind_name_used_twice_keeps_its_column_type(db: Session, app: Flask) -> None:
    """In ``CASE WHEN col < :now THEN :now`` only the first ``:now`` carries the column's
    type (UTCDateTime); the value must still be stored as SQLAlchemy stores it (found by
    review: the last occurrence's processing, none, was taken)."""
    user = make_user(db, app)
    db.commit()
    conn = db.connection()
    if conn.dialect.name == "postgresql":  # an aware datetime sent as is would shift here
        conn.exec_driver_sql("SET LOCAL TIME ZONE 'America/New_York'")
    table = table_of(AuthSession)
    bump = (update(table).where(table.c.id == bindparam("session_id"))
            .values(last_seen_at=case((table.c.last_seen_at < bindparam("now"),
                                       bindparam("now")), else_=table.c.last_seen_at)))
    by_core, by_prepared = (
        sessions.start(db, user=user, credential=None, method="password", client=CLIENT,
                       now=NOW - timedelta(hours=1), timeouts=TIMEOUTS).id
        for _ in range(2))
    conn.execute(bump, {"session_id": by_core, "now": NOW})
    prepared = Prepared(bump)
    assert prepared.direct(conn.dialect, ["session_id", "now"])
    prepared.run(db, {"session_id": by_prepared, "now": NOW})
    matching = conn.execute(select(func.count()).select_from(table)
                            .where(table.c.last_seen_at == NOW)).scalar_one()
    assert matching == 2


def test_a_value_its_type_refuses_is_a_statement_error(db: Session) -> None:
    issue = Prepared(insert(table_of(OneTimeToken)))
    naive = datetime(2026, 11, 27, 12, 0)  # UTCDateTime takes aware datetimes only
    with pytest.raises(StatementError, match="naive datetime"):
        issue.run(db, {"token_hash": "h", "purpose": "test", "user_id": None,
                       "credential_id": None, "payload": {}, "created_at": naive,
                       "expires_at": NOW, "used_at": None})

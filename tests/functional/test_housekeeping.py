"""``keystile housekeeping`` and ``keystile audit prune``: rows that stopped working, and audit
events past retention, deleted; safe when several instances run them at once; audited."""

from __future__ import annotations

import csv
import io
import json
import secrets
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import EXTENSION
from app.models import (
    AuditEvent,
    AuthSession,
    DeviceToken,
    GateSession,
    OneTimeToken,
    TokenPurpose,
    User,
    utcnow,
)
from app.services import housekeeping
from app.services.sessions import Timeouts
from tests.conftest import make_user

TIMEOUTS = Timeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
LONG_AGO = timedelta(days=8)  # beyond housekeeping.RETAIN


def _session(
    user: User,
    *,
    created: datetime,
    revoked: datetime | None = None,
    last_seen: datetime | None = None,
) -> AuthSession:
    return AuthSession(
        token_hash=secrets.token_hex(32),
        user_id=user.id,
        method="password",
        created_at=created,
        last_seen_at=last_seen or created,
        expires_at=created + TIMEOUTS.absolute,
        revoked_at=revoked,
    )


def _token(
    purpose: TokenPurpose,
    *,
    expires: datetime,
    used: datetime | None = None,
    user: User | None = None,
) -> OneTimeToken:
    return OneTimeToken(
        token_hash=secrets.token_hex(32),
        purpose=str(purpose),
        user_id=user.id if user else None,
        payload={},
        expires_at=expires,
        used_at=used,
    )


def _gate_session(parent: AuthSession, *, expires: datetime) -> GateSession:
    return GateSession(
        token_hash=secrets.token_hex(32), parent=parent, host="wiki.example.com", expires_at=expires
    )


def _device(user: User, *, expires: datetime) -> DeviceToken:
    return DeviceToken(
        secret_hash=secrets.token_hex(32),
        user_id=user.id,
        created_at=expires - timedelta(days=180),
        last_used_at=expires - timedelta(days=180),
        expires_at=expires,
        user_agent="",
    )


def _seed(db: Session, user: User, *, stale: int = 1) -> dict[str, int]:
    """``stale`` of each kind of row that stopped working long ago, and rows still in use
    or ended recently; returns what housekeeping should delete."""
    now = utcnow()
    old = now - LONG_AGO
    for _ in range(stale):
        expired = _session(user, created=old - TIMEOUTS.absolute)
        live = _session(user, created=now)
        db.add_all(
            [
                _gate_session(expired, expires=now + timedelta(hours=1)),  # its parent goes
                _gate_session(live, expires=old),  # expired
                _device(user, expires=old),
                live,
                expired,
                _session(user, created=now - timedelta(hours=1), revoked=old),  # signed out
                _session(user, created=old, last_seen=old - TIMEOUTS.idle),  # idle
                _token(TokenPurpose.ENROLMENT, expires=old, user=user),
                _token(
                    TokenPurpose.ENROLMENT, expires=now + timedelta(days=1), used=old, user=user
                ),
                _token(TokenPurpose.CERT_LOGIN, expires=old, user=user),
                _token(TokenPurpose.WEBAUTHN_AUTHENTICATION, expires=now - timedelta(hours=2)),
            ]
        )
    kept = _session(user, created=now)
    db.add_all(
        [  # kept: live, or stopped working recently
            kept,
            _gate_session(kept, expires=now + timedelta(hours=1)),
            _device(user, expires=now + timedelta(days=30)),
            _device(user, expires=now - timedelta(days=1)),
            _session(user, created=now - timedelta(hours=1), revoked=now - timedelta(days=1)),
            _token(TokenPurpose.ENROLMENT, expires=now + timedelta(days=1), user=user),
            _token(TokenPurpose.ENROLMENT, expires=now - timedelta(days=1), user=user),
            _token(TokenPurpose.WEBAUTHN_AUTHENTICATION, expires=now - timedelta(minutes=10)),
            _token(TokenPurpose.WEBAUTHN_REGISTRATION, expires=now + timedelta(minutes=5)),
        ]
    )
    db.commit()
    return {
        "sessions": 3 * stale,
        "gate_sessions": 2 * stale,
        "links": 3 * stale,
        "challenges": stale,
        "devices": stale,
    }


def _left(db: Session, stale: int = 1) -> tuple[int, int, int, int]:
    """Sessions (less the live ones seeded with each stale batch), links, protected-host
    sessions and device tokens left."""
    db.expire_all()
    count = {
        model: db.scalar(select(func.count()).select_from(model)) or 0
        for model in (AuthSession, OneTimeToken, GateSession, DeviceToken)
    }
    return (count[AuthSession] - stale, count[OneTimeToken], count[GateSession], count[DeviceToken])


def _runs(db: Session) -> list[dict[str, Any]]:
    db.expire_all()
    return [
        e.details
        for e in db.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == "system:housekeeping")
            .order_by(AuditEvent.id)
        )
    ]


def test_housekeeping_deletes_what_stopped_working_and_audits_it(
    app: Flask, db: Session, runner: Any
) -> None:
    expected = _seed(db, make_user(db, app, "alice", password=None))
    result = runner.invoke(args=["housekeeping"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "removed 3 sessions, 2 protected-host sessions, 3 one-time links, "
        "1 passkey challenges, 1 device tokens"
    )
    assert _left(db) == (2, 4, 1, 2)
    assert _runs(db) == [expected]
    again = runner.invoke(args=["housekeeping"])  # nothing left to do is not an error
    assert again.exit_code == 0 and "removed 0 sessions" in again.output
    assert _runs(db)[-1] == dict.fromkeys(expected, 0)


def test_instances_racing_count_each_row_once(app: Flask, db: Session) -> None:
    stale = 300
    expected = _seed(db, make_user(db, app, "alice", password=None), stale=stale)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def instance() -> None:
        own: Session = app.extensions[EXTENSION]()
        try:
            start.wait()
            housekeeping.run(own, now=utcnow(), timeouts=TIMEOUTS)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=instance) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    runs = _runs(db)
    assert len(runs) == 3
    assert {k: sum(r[k] for r in runs) for k in expected} == expected
    assert _left(db, stale) == (2, 4, 1, 2)


# -- audit prune ------------------------------------------------------------------------------


def _events(db: Session, ages_in_days: list[int]) -> None:
    now = utcnow()
    db.add_all(
        [
            AuditEvent(
                created_at=now - timedelta(days=age),
                tag="auth:password:failure",
                outcome="failure",
                reason=f"age-{age}",
                details={},
            )
            for age in ages_in_days
        ]
    )
    db.commit()


def _reasons(db: Session) -> list[str | None]:
    db.expire_all()
    return [
        e.reason
        for e in db.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == "auth:password:failure")
            .order_by(AuditEvent.created_at)
        )
    ]


def _day(days_ago: int) -> str:
    return (utcnow() - timedelta(days=days_ago)).date().isoformat()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_prune_exports_then_deletes_what_is_older(
    app: Flask, db: Session, runner: Any, tmp_path: Path, fmt: str
) -> None:
    _events(db, [400, 380, 366, 10, 0])
    export = tmp_path / f"old.{fmt}"
    result = runner.invoke(
        args=["audit", "prune", "--before", _day(365), "--export", str(export), "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    assert f"exported 3 to {export}, deleted 3 events" in result.output
    assert _reasons(db) == ["age-10", "age-0"]
    text = export.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    assert [r["reason"] for r in rows] == ["age-400", "age-380", "age-366"]
    pruned = db.scalars(select(AuditEvent).where(AuditEvent.tag == "system:audit:pruned")).one()
    assert pruned.details["deleted"] == 3 and pruned.details["exported"] == 3
    assert pruned.details["export"] == str(export)


def test_prune_without_export(app: Flask, db: Session, runner: Any) -> None:
    _events(db, [40, 20, 1])
    result = runner.invoke(args=["audit", "prune", "--before", _day(10)])
    assert result.exit_code == 0, result.output
    assert "deleted 2 events" in result.output and "exported" not in result.output
    assert _reasons(db) == ["age-1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing option '--before'"),
        (["--before", "yesterday"], "use a date like"),
        (["--before", "2999-01-01"], "in the future"),
        (["--before", "2999-01-01", "--export", "{tmp}/x.csv"], "in the future"),
        (["--before", "2020-01-01", "--export", "{tmp}/exists.csv"], "exists; give a new file"),
        (["--before", "2020-01-01", "--export", "{tmp}/no/such/dir.csv"], "cannot write"),
    ],
    ids=[
        "no-before",
        "not-a-date",
        "future",
        "future-export",
        "export-exists",
        "export-unwritable",
    ],
)
def test_prune_refuses_and_deletes_nothing(
    app: Flask, db: Session, runner: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    _events(db, [4000, 1])
    (tmp_path / "exists.csv").write_text("an earlier export\n")
    result = runner.invoke(args=["audit", "prune", *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert _reasons(db) == ["age-4000", "age-1"]
    assert (tmp_path / "exists.csv").read_text() == "an earlier export\n"
    assert not (tmp_path / "x.csv").exists()

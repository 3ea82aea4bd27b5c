"""``keystile audit export`` and ``keystile report credentials``."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.models import AuditEvent, User, utcnow
from tests.conftest import make_user
from tests.support import factories

FORMULA = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def trail(db: Session, app: Flask, alice: User) -> User:
    bob = make_user(db, app, "bob")
    now = utcnow()
    db.add_all(
        [
            AuditEvent(
                tag="auth:password:failure",
                user_id=bob.id,
                method="password",
                outcome="failure",
                reason="wrong_password",
                user_agent=FORMULA,
                details={"note": 'a,b\n"c"'},
                created_at=now,
            ),
            AuditEvent(
                tag="auth:passkey:success",
                user_id=bob.id,
                method="passkey",
                outcome="success",
                details={},
                created_at=now - timedelta(days=3),
            ),
        ]
    )
    db.commit()
    return bob


def test_export_csv_is_every_event_oldest_first(runner: Any, trail: User) -> None:
    result = runner.invoke(args=["audit", "export", "--format", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output, newline="")))
    assert len(rows) >= 6 and rows[-1]["tag"] == "auth:password:failure"
    assert rows[-1]["user_agent"] == "'" + FORMULA
    assert json.loads(rows[-1]["details"]) == {"note": 'a,b\n"c"'}
    stamps = [r["created_at"] for r in rows]
    assert stamps == sorted(stamps)


def test_export_jsonl_with_filters(runner: Any, trail: User) -> None:
    today = utcnow().date()
    result = runner.invoke(
        args=[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--user",
            "BOB",
            "--since",
            (today - timedelta(days=5)).isoformat(),
            "--until",
            (today - timedelta(days=1)).isoformat(),
        ]
    )
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.output.splitlines()]
    assert [(i["tag"], i["username"]) for i in items] == [("auth:passkey:success", "bob")]
    failures = runner.invoke(
        args=[
            "audit",
            "export",
            "--format",
            "jsonl",
            "--outcome",
            "failure",
            "--method",
            "password",
        ]
    ).output.splitlines()
    assert [json.loads(line)["user_agent"] for line in failures] == [FORMULA]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--user", "nobody"], 1, "no user 'nobody'"),
        (["--since", "last tuesday"], 2, "use a date like 2026-01-31"),
        (["--format", "xml"], 2, "'xml' is not one of"),
    ],
)
def test_export_refuses_bad_arguments(
    runner: Any, alice: User, args: list[str], code: int, says: str
) -> None:
    result = runner.invoke(args=["audit", "export", *args])
    assert result.exit_code == code and says in result.output


def test_report_credentials_json(runner: Any, db: Session, app: Flask, alice: User) -> None:
    expiry = utcnow() + timedelta(days=12)
    factories.certificate(db, alice, not_after=expiry)
    factories.passkey(db, alice, synced=False, attested=True)
    make_user(db, app, "zed", password=None)
    result = runner.invoke(args=["report", "credentials", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [r["username"] for r in report] == ["alice", "zed"]
    assert report[0] == {
        "username": "alice",
        "role": "user",
        "status": "active",
        "by_kind": {"password": 1, "certificate": 1, "passkey": 1},
        "by_strength": {
            "password": 1,
            "certificate": 1,
            "synced_passkey": 0,
            "device_key": 0,
            "hardware_key": 1,
        },
        "strongest": "hardware_key",
        "earliest_certificate_expiry": expiry.isoformat(),
    }
    assert report[1]["strongest"] is None and report[1]["earliest_certificate_expiry"] is None
    text = runner.invoke(args=["report", "credentials"]).output.splitlines()
    assert text[0].split()[:3] == ["alice", "hardware_key", "password=1"]
    assert text[1].split()[:2] == ["zed", "none"]


def test_report_credentials_text_and_empty(runner: Any, app: Flask) -> None:
    assert json.loads(runner.invoke(args=["report", "credentials", "--json"]).output) == []
    assert runner.invoke(args=["report", "credentials"]).output == ""

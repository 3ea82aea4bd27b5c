"""The operator CLI: ``keystile user ...``, ``keystile request ...``, ``keystile db upgrade``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AccountRequest, User
from tests.conftest import PASSWORD, AuthActions, csrf_from, make_user

ROOT = Path(__file__).resolve().parents[2]


def test_user_create_with_password_stdin_then_sign_in(runner: Any, auth: AuthActions) -> None:
    result = runner.invoke(
        args=["user", "create", "carol", "--admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert auth.login(username="carol").status_code == 303


def test_user_create_applies_password_rules(runner: Any, db: Session) -> None:
    result = runner.invoke(args=["user", "create", "dave", "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "at least 15 characters" in result.output
    assert db.scalar(select(User).where(User.username == "dave")) is None


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("passwordpassword", id="common-word-twice"),
        pytest.param("davedavedavedave", id="the-username-repeated"),
        pytest.param("dave's long password", id="holds-the-username"),
    ],
)
def test_user_create_refuses_guessable_passwords(runner: Any, db: Session, weak: str) -> None:
    result = runner.invoke(args=["user", "create", "dave", "--password-stdin"], input=weak + "\n")
    assert result.exit_code != 0
    assert (
        "This password would be easy to guess" in result.output
        or "Leave your username out" in result.output
    ), result.output
    assert db.scalar(select(User).where(User.username == "dave")) is None


def test_user_create_prints_enrolment_link(runner: Any, client: FlaskClient) -> None:
    result = runner.invoke(args=["user", "create", "erin"])
    assert result.exit_code == 0
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("https://localhost/enroll/")
    assert client.get(link.removeprefix("https://localhost")).status_code == 200


def test_user_create_refuses_duplicates_case_insensitively(runner: Any, alice: User) -> None:
    result = runner.invoke(args=["user", "create", "ALICE"])
    assert result.exit_code != 0 and "taken" in result.output


def test_user_list_json(runner: Any, alice: User) -> None:
    result = runner.invoke(args=["user", "list", "--json"])
    rows = json.loads(result.output)
    assert rows[0]["username"] == "alice"
    assert rows[0]["credentials"] == {"password": 1, "certificate": 0, "passkey": 0}


def test_request_list_approve_reject(runner: Any, client: FlaskClient, db: Session) -> None:
    from app.models import utcnow

    for name in ("frank", "grace"):
        db.add(
            AccountRequest(
                username=name,
                username_normalized=name,
                email=f"{name}@example.org",
                created_at=utcnow(),
            )
        )
    db.commit()
    listed = json.loads(runner.invoke(args=["request", "list", "--json"]).output)
    assert [r["username"] for r in listed] == ["frank", "grace"]
    approved = runner.invoke(args=["request", "approve", str(listed[0]["id"])])
    assert approved.exit_code == 0 and "/enroll/" in approved.output
    rejected = runner.invoke(args=["request", "reject", str(listed[1]["id"])])
    assert rejected.exit_code == 0
    again = runner.invoke(args=["request", "approve", str(listed[1]["id"])])
    assert again.exit_code != 0 and "No pending" in again.output
    assert json.loads(runner.invoke(args=["request", "list", "--json"]).output) == []


def test_console_script_db_upgrade_and_user_list(tmp_path: Path, app: Flask) -> None:
    """The installed ``keystile`` command works on a fresh database file."""
    env = {
        **os.environ,
        "KEYSTILE_ENV": "development",
        "KEYSTILE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
    }
    keystile = str(ROOT / ".venv" / "bin" / "keystile")
    up = subprocess.run(
        [keystile, "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert up.returncode == 0, up.stderr
    listed = subprocess.run(
        [keystile, "user", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0 and json.loads(listed.stdout) == []


def test_user_link_recovers_an_administrator(
    runner: Any, client: FlaskClient, app: Flask, db: Session
) -> None:
    """The web pages give no set-up link for an administrator: the operator does, here, and
    using it replaces the password and ends the sessions the old one opened."""
    make_user(db, app, "root", admin=True)
    thief = app.test_client()
    assert AuthActions(thief).login("root").status_code == 303
    result = runner.invoke(args=["user", "link", "root"])
    assert result.exit_code == 0, result.output
    path = result.output.strip().splitlines()[-1].removeprefix("https://localhost")
    new = "a brand new passphrase for the operator"
    page = client.get(path).get_data(as_text=True)
    assert (
        client.post(
            path, data={"password": new, "confirm": new, "csrf_token": csrf_from(page)}
        ).status_code
        == 303
    )
    assert thief.get("/api/session").status_code == 401
    assert AuthActions(app.test_client()).login("root", new).status_code == 303
    assert runner.invoke(args=["user", "link", "nobody"]).exit_code != 0

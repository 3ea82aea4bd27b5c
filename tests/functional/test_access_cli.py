"""``keystile access check``: the matching rule, the decision and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.models import utcnow
from app.services import groups
from app.services.audit import SYSTEM
from tests.conftest import make_user
from tests.support import factories

RULES = """
default = "deny"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/public/"]
policy = "bypass"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/admin/"]
groups = ["ops"]
require = { strength = "hardware-key", max_age = "15m" }
[[rule]]
hosts = ["*.example.com"]
require = { strength = "password" }
"""


@pytest.fixture
def app_overrides(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "rules.toml"
    path.write_text(RULES)
    return {"access_rules": str(path)}


def check(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["access", "check", *args])


def test_anonymous_bypass_and_sign_in(runner: Any) -> None:
    result = check(runner, "--host", "wiki.example.com", "--path", "/public/x")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "rule: 1: hosts=wiki.example.com paths=/public/ policy=bypass",
        "decision: allow",
        "why: rule 1 bypasses sign-in",
    ]
    result = check(runner, "--host", "wiki.example.com", "--path", "/admin/")
    assert "decision: sign-in" in result.output and "needs: hardware-key" in result.output


def test_user_in_group_steps_up_then_passes_with_a_key(
    runner: Any, db: Session, app: Flask
) -> None:
    bob = make_user(db, app, "bob")
    groups.add(db, bob, "ops", client=SYSTEM, now=utcnow())
    db.commit()
    args = ["--host", "wiki.example.com", "--path", "/admin/x", "--user", "bob"]
    result = check(runner, *args)
    assert "user: bob (role user, groups ops, strongest credential password" in result.output
    assert (
        "rule: 2: hosts=wiki.example.com paths=/admin/ groups=ops require "
        "strength=hardware-key max_age=900s" in result.output
    )
    assert "decision: step-up" in result.output
    assert "why: rule 2 needs hardware-key; signed in with password" in result.output
    factories.passkey(db, bob, synced=False, attested=True)
    assert "decision: allow" in check(runner, *args).output


def test_not_in_group_denied_and_default_deny(runner: Any, db: Session, app: Flask) -> None:
    make_user(db, app, "alice")
    result = check(
        runner,
        "--host",
        "wiki.example.com",
        "--path",
        "/admin/",
        "--method",
        "post",
        "--user",
        "alice",
    )
    assert "decision: deny" in result.output and "alice is not among them" in result.output
    result = check(runner, "--host", "evil.example.org", "--path", "/")
    assert "rule: none (default deny)" in result.output and "decision: deny" in result.output
    result = check(runner, "--host", "wiki.example.com", "--path", "/public/%2e%2e/admin")
    assert "decision: deny" in result.output and "encoded slash, backslash or dot" in result.output


def test_errors(runner: Any) -> None:
    result = check(runner, "--host", "wiki.example.com", "--path", "/", "--user", "nobody")
    assert result.exit_code == 1 and "no user 'nobody'" in result.output
    result = check(runner, "--path", "/")
    assert result.exit_code == 2 and "Missing option '--host'" in result.output


def test_without_rules_the_command_says_so(database_url: str, tmp_path: Path) -> None:
    from tests.conftest import make_app

    bare = make_app(database_url, tmp_path / "bare")
    result = bare.test_cli_runner().invoke(args=["access", "check", "--host", "a.b", "--path", "/"])
    assert result.exit_code == 1 and "KEYSTILE_ACCESS_RULES is not set" in result.output

"""The certificate command that ``make run`` prints works as printed, and its private key
lands in the instance folder, never in the checkout (issue 15, item 4)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import pkcs12
from flask import Flask

from app.cli.dev import ISSUE_COMMAND
from app.models import User

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_a_relative_p12_path_is_written_in_the_instance_folder(
    runner: Any, app: Flask, alice: User
) -> None:
    assert runner.invoke(args=["ca", "init"]).exit_code == 0
    result = runner.invoke(args=["ca", "issue", "alice", "--p12", "alice.p12", "--password", "pw"])
    assert result.exit_code == 0, result.output
    written = Path(app.instance_path) / "alice.p12"
    assert f"wrote {written} " in result.output and "docs/certificates.md" in result.output
    assert pkcs12.load_pkcs12(written.read_bytes(), b"pw").cert is not None
    assert written.stat().st_mode & 0o077 == 0
    assert not (Path.cwd() / "alice.p12").exists()


def test_the_printed_command_works_as_printed(tmp_path: Path) -> None:
    """In a new shell with no KEYSTILE_* variable but the printed ones: the command's own
    ``KEYSTILE_ENV=development`` prefix carries the development settings."""
    words = shlex.split(ISSUE_COMMAND)
    prefix = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    command = [w for w in words if "=" not in w or w.startswith("-")]
    assert prefix == {"KEYSTILE_ENV": "development"}
    assert command[:3] == [".venv/bin/keystile", "ca", "issue"]
    name = f"journey-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTILE_", "FLASK_"))}
    # The test's own database and CA; the .p12 goes where the printed command puts it.
    env |= {
        **prefix,
        "KEYSTILE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}",
        "KEYSTILE_CA_DIR": str(tmp_path / "ca"),
    }

    def keystile(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "keystile"), *args],
            env=env,
            cwd=ROOT,
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
        )

    for step in (["db", "upgrade"], ["user", "create", name], ["ca", "init"]):
        assert keystile(*step).returncode == 0
    args = [a.replace("NAME", name) for a in command[1:]]
    result = keystile(*args)
    try:
        assert result.returncode == 0, result.stderr
        written = Path(result.stdout.split("wrote ", 1)[1].split(" for ", 1)[0])
        assert written.name == f"{name}.p12" and written.parent.name == "instance"
        assert not (ROOT / f"{name}.p12").exists()
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"{name}.p12"], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0  # *.p12 is ignored anywhere in the checkout
    finally:
        (ROOT / "instance" / f"{name}.p12").unlink(missing_ok=True)


def test_without_development_the_message_says_how_to_run_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTILE_", "FLASK_"))}
    result = subprocess.run(
        [str(BIN / "keystile"), "ca", "issue", "x", "--p12", "x.p12"],
        env=env,
        cwd=tmp_path,
        text=True,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "KEYSTILE_ENV=development" in result.stderr and "make run" in result.stderr

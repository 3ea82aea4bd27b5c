"""``keystile --help`` needs no configuration; a real command still refuses an invalid one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KEYSTILE = Path(sys.executable).parent / "keystile"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script, with no KEYSTILE_* or FLASK_* variable set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYSTILE_", "FLASK_"))}
    return subprocess.run(
        [str(KEYSTILE), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "usage", "shown"),
    [
        pytest.param(
            ["--help"],
            "Usage: keystile [OPTIONS] COMMAND",
            [
                "access",
                "audit",
                "ca",
                "cert",
                "db",
                "dev",
                "group",
                "passkey",
                "proxy-config",
                "report",
                "request",
                "user",
            ],
            id="top-level",
        ),
        pytest.param(["db", "--help"], "Usage: keystile db", ["upgrade"], id="group"),
        pytest.param(
            ["user", "create", "--help"],
            "Usage: keystile user create",
            ["--password-stdin", "--admin"],
            id="command",
        ),
        pytest.param(
            ["audit", "export", "--help"],
            "Usage: keystile audit export",
            ["--format", "--since"],
            id="command-with-callbacks",
        ),
    ],
)
def test_help_without_configuration(
    tmp_path: Path, args: list[str], usage: str, shown: list[str]
) -> None:
    result = run(args, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(usage)
    assert all(word in result.stdout for word in shown), result.stdout
    assert result.stderr == ""


def test_a_real_command_still_stops_on_invalid_configuration(tmp_path: Path) -> None:
    result = run(["user", "list", "--json"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("keystile: invalid configuration: KEYSTILE_SECRET_KEY")
    assert result.stdout == ""


def test_an_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["no-such-command"], tmp_path)
    assert result.returncode == 2 and "No such command 'no-such-command'" in result.stderr

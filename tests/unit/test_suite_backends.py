"""The suite's PostgreSQL half: without KEYSTILE_TEST_DATABASE_URL it shows as skipped with the
reason (counted in one line), and in CI it fails, as every missing real part does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_TEST = "tests/functional/test_cli.py::test_user_create_prints_enrolment_link"


def run_pytest(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "KEYSTILE_TEST_DATABASE_URL",
            "CI",
            "PYTEST_XDIST_WORKER",
            "PYTEST_ADDOPTS",
            "PYTEST_CURRENT_TEST",
        )
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", ONE_TEST],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_without_a_database_url_postgresql_tests_are_skipped_with_the_reason() -> None:
    result = run_pytest()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "skipped tests, by reason" in result.stdout
    assert "    1  PostgreSQL not configured: set KEYSTILE_TEST_DATABASE_URL=" in result.stdout


def test_in_ci_a_missing_database_url_fails() -> None:
    result = run_pytest(CI="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 1 error" in result.stdout
    assert "required in CI: PostgreSQL not configured" in result.stdout

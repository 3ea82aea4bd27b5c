"""The benchmarks still run: each, for a second or two, completes sign-ins against gunicorn
with no failure and prints the lines docs/performance.md quotes.

They measure nothing here (a timed assertion on a shared machine would be a coin toss); they
only keep ``bench/`` from rotting as the sign-in flows change.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import require
from tests.e2e.proxies import servers
from tests.e2e.proxies.servers import ROOT


def _bench(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _completed(output: str, label: str) -> float:
    """Sign-ins per second of the line starting with ``label``, which must show no failure."""
    line = next(line for line in output.splitlines() if line.startswith(label))
    assert "failures 0" in line, line
    rate = re.search(r"([\d.]+)/s", line)
    assert rate is not None, line
    return float(rate.group(1))


def test_password_benchmark_signs_in_beside_its_bare_bound() -> None:
    out = _bench("password_login.py", "--duration", "2", "--rounds", "1", "--users", "4")
    assert _completed(out, "password sign-in") > 0
    assert _completed(out, "bare bound") > 0
    assert re.search(
        r"ratio per worker: [\d.]+% of the floor .*, 0 failures; "
        r"the bare bound reaches [\d.]+%",
        out,
    ), out


def test_passkey_benchmark_signs_in() -> None:
    out = _bench("passkey_login.py", "--duration", "1.5", "--rounds", "1", "--users", "4")
    assert _completed(out, "passkey sign-in") > 0
    assert _completed(out, "floor: GET /healthz") > 0
    assert re.search(r"[\d.]+ ms server CPU per sign-in .*, 0 failures", out), out


def test_scale_benchmark_reconciles_the_audit_trail() -> None:
    """One and two instances behind nginx, on PostgreSQL and Redis (tests/support/cluster.py)."""
    import os

    from tests.conftest import PG_URL, require
    from tests.e2e.proxies.servers import binary

    require(
        bool(PG_URL) and bool(os.environ.get("KEYSTILE_TEST_REDIS_URL")),
        "KEYSTILE_TEST_DATABASE_URL and KEYSTILE_TEST_REDIS_URL are not set",
    )
    require(binary("nginx") is not None, "nginx is not installed")
    prefix = re.sub(r"\W", "", os.environ.get("KEYSTILE_TEST_DATABASE_PREFIX", "keystile_test_"))
    out = _bench(
        "scale.py",
        "--database-url",
        PG_URL,
        "--database-name",
        f"{prefix}scale",
        "--redis-url",
        os.environ["KEYSTILE_TEST_REDIS_URL"],
        "--duration",
        "2",
        "--clients",
        "2",
        "--users",
        "8",
        "--passwords",
        "2",
    )
    for kind in (
        "passkey sign-in",
        "password sign-in",
        "certificate sign-in",
        "session check",
        "gate check",
    ):
        assert out.count(f"  {kind}") == 3, out  # one line per run, and the scaling line
        runs = re.findall(rf"^  {kind} +([\d.]+)/s .* failures (\d+)$", out, re.MULTILINE)
        assert len(runs) == 2 and all(float(rate) > 0 and n == "0" for rate, n in runs), out
    assert out.count(": OK") == 2 and "MISMATCH" not in out, out


def test_flood_benchmark_runs_its_scenarios() -> None:
    """nginx from ``keystile proxy-config`` in front, a spray (and the same at the floor's
    nginx) and one address flooding: every
    method signs in at least once in the idle scenario, the browser that signed in before
    in every scenario, and no guess is answered with a 5xx."""
    from tests.conftest import require
    from tests.e2e.proxies import servers

    require(servers.binary("nginx") is not None, "nginx is not installed (apt install nginx)")
    out = _bench(
        "flood.py",
        "--duration",
        "3",
        "--rates",
        "1",
        "--scenarios",
        "idle,spray,floor,one-address",
        "--flood-threads",
        "8",
    )
    for scenario in ("idle", "spray 1x", "floor: spray 1x", "one address, 16 connections"):
        assert f"\n{scenario}" in out, out
    for method in (
        "password, new browser",
        "password, known browser",
        "passkey sign-in",
        "certificate sign-in",
        "signed-in request",
    ):
        lines = [line for line in out.splitlines() if line.strip().startswith(method)]
        assert len(lines) == 4, out
        assert "no success" not in lines[0] and " success 0/" not in lines[0], lines[0]
    known = [line for line in out.splitlines() if "password, known browser" in line]
    assert all(" success 0/" not in line for line in known), out
    answers = re.findall(r"attack answers +(.*)", out)
    assert len(answers) == 3, out
    for line in answers:
        codes = {int(code) for code in re.findall(r"(\d{3}): \d+", line)}
        assert codes <= {401, 429}, line


def test_forward_auth_benchmark_checks_through_nginx() -> None:
    require(servers.binary("nginx") is not None, "nginx is not installed (apt install nginx)")
    out = _bench("forward_auth.py", "--duration", "1", "--rounds", "1")
    for label in (
        "floor (bare WSGI 200)",
        "signed-in cookie",
        "pinned certificate",
        "cookie, 1,000 rules same host",
        "cookie, 1,000 rules other hosts",
    ):
        assert _completed(out, label) > 0
    assert re.search(r"signed-in cookie: [\d.]+% of the floor, 0 failures", out), out
    assert re.search(r"1,000 rules other hosts: [+-][\d.]+% time per check", out), out


def test_the_counted_checks_are_allowed(tmp_path: Path) -> None:
    """bench/forward_auth_instructions.py counts the instructions of each row's checks under
    valgrind (minutes); here each row's child process only runs a few, which it does only
    if every one is allowed (a refused check ends it with an error)."""
    from bench.forward_auth_instructions import ROWS, set_up

    set_up(tmp_path)
    for _, kind, rules in ROWS:
        _bench("forward_auth_instructions.py", "--child", str(tmp_path), kind, rules, "3")

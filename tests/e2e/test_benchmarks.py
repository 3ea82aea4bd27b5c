"""The benchmarks still run: each, for a second or two, completes sign-ins against gunicorn
with no failure and prints the lines the README's performance section quotes.

They measure nothing here (a timed assertion on a shared machine would be a coin toss); they
only keep ``bench/`` from rotting as the sign-in flows change.
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import require
from tests.e2e.proxies import servers
from tests.e2e.proxies.servers import ROOT


def _bench(name: str, *args: str) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / name), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=180, check=False)
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
    assert re.search(r"ratio per worker: [\d.]+% of the floor .*, 0 failures; "
                     r"the bare bound reaches [\d.]+%", out), out


def test_passkey_benchmark_signs_in() -> None:
    out = _bench("passkey_login.py", "--duration", "1.5", "--rounds", "1", "--users", "4")
    assert _completed(out, "passkey sign-in") > 0
    assert _completed(out, "floor: GET /healthz") > 0
    assert re.search(r"[\d.]+ ms server CPU per sign-in .*, 0 failures", out), out


def test_forward_auth_benchmark_checks_through_nginx() -> None:
    require(servers.binary("nginx") is not None, "nginx is not installed (apt install nginx)")
    out = _bench("forward_auth.py", "--duration", "1", "--rounds", "1")
    for label in ("floor (bare WSGI 200)", "signed-in cookie", "pinned certificate",
                  "cookie, 1,000 rules same host", "cookie, 1,000 rules other hosts"):
        assert _completed(out, label) > 0
    assert re.search(r"signed-in cookie: [\d.]+% of the floor, 0 failures", out), out
    assert re.search(r"1,000 rules other hosts: [+-][\d.]+% time per check", out), out

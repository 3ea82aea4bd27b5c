"""Instructions per forward-auth check, counted by valgrind's callgrind: a figure a shared
machine cannot blur, where ``bench/forward_auth.py``'s rates drift with the machine's speed.

A check goes through Werkzeug's test client in-process (SQLite), as nginx's ``auth_request``
sends it (``forward_auth.in_process_check``). Each figure is the difference between two runs
of one process under callgrind, one making ``--checks`` more checks than the other, divided
by ``--checks``; the same request to the floor's bare WSGI callable measures what the test
client itself costs, and it is subtracted. Rows: the signed-in cookie and the pinned
certificate against 10 rules, and the cookie against the 1,000-rule files of
``bench/forward_auth.py`` (issue 12's target: 1,000 rules at most 10 % dearer than 10).

Needs valgrind (Debian: ``apt install valgrind``). About five minutes on two cores.

Usage: python bench/forward_auth_instructions.py [--checks 200]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.forward_auth import RULES, in_process_check, prepare, rules_file

#: checks both runs make first (start-up, caches, the compiled statements)
WARM = 50
#: (label, kind, rules file)
ROWS = [
    ("test client alone (bare WSGI 200)", "bare", "10"),
    ("signed-in cookie, 10 rules", "cookie", "10"),
    ("pinned certificate, 10 rules", "certificate", "10"),
    ("cookie, 1,000 rules same host", "cookie", "1000-same-host"),
    ("cookie, 1,000 rules other hosts", "cookie", "1000-other-hosts"),
]
_COLLECTED = re.compile(r"Collected : (\d+)")


def set_up(directory: Path) -> None:
    """What every child reads in ``directory``: the database, alice's session and pinned
    certificate (``forward_auth.prepare``), and the rules files."""
    env, cookie, _, _, pki = prepare(directory, port=8443)
    saved = {"env": env, "cookie": cookie, "certificate": str(pki.self_signed.cert_path)}
    (directory / "setup.json").write_text(json.dumps(saved))
    for name, (before, same_host) in RULES.items():
        rules_file(directory / f"rules-{name}.toml", before, same_host)


def child(directory: Path, kind: str, rules: str, count: int) -> None:
    """Make ``count`` checks in this process (the one callgrind counts)."""
    saved = json.loads((directory / "setup.json").read_text())
    check = in_process_check(
        saved["env"],
        saved["cookie"],
        Path(saved["certificate"]),
        kind,
        rules=directory / f"rules-{rules}.toml",
    )
    for _ in range(count):
        check()


def instructions(directory: Path, kind: str, rules: str, count: int) -> int:
    """What callgrind counts for a process making ``count`` checks."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            str(directory),
            kind,
            rules,
            str(count),
        ],
        capture_output=True,
        text=True,
        check=True,
        # the same string hashes, hence the same dict layouts, in every run
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = _COLLECTED.search(out.stderr)
    if found is None:
        raise SystemExit(f"callgrind printed no count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def per_check(directory: Path, kind: str, rules: str, checks: int) -> float:
    fewer = instructions(directory, kind, rules, WARM)
    more = instructions(directory, kind, rules, WARM + checks)
    return (more - fewer) / checks


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checks", type=int, default=200, help="checks the longer run adds")
    ap.add_argument(
        "--child", nargs=4, metavar=("DIR", "KIND", "RULES", "COUNT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.child:
        directory, kind, rules, count = args.child
        child(Path(directory), kind, rules, int(count))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt install valgrind)")
    with tempfile.TemporaryDirectory(prefix="keystile-bench-") as tmp:
        directory = Path(tmp)
        set_up(directory)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            futures = [
                pool.submit(per_check, directory, kind, rules, args.checks)
                for _, kind, rules in ROWS
            ]
            counts = [f.result() for f in futures]
    client = counts[0]
    own = {label: count - client for (label, _, _), count in zip(ROWS, counts, strict=True)}
    print(f"instructions per check (callgrind, {args.checks} checks, test client's own subtracted)")
    for (label, _, _), count in zip(ROWS, counts, strict=True):
        line = f"{label:34} {count / 1e6:6.3f} M in all"
        if label != ROWS[0][0]:
            line += f", {own[label] / 1e6:6.3f} M Keystile's own"
        print(line)
    ten = own[ROWS[1][0]]
    for label, _, _ in ROWS[3:]:
        extra = own[label] / ten - 1
        verdict = "meets" if extra <= 0.10 else "misses"
        print(f"{label}: {extra:+.1%} against 10 rules ({verdict} the target: at most +10%)")


if __name__ == "__main__":
    main()

"""One sign-in benchmark against this tree and an older commit, in alternating slices.

The sign-in benches measure Keystile against floors; a change to the sign-in paths is
judged against the code before it, on the same machine at the same time (these machines'
speed drifts by a third over a day, so runs made apart do not compare). This serves the
commit given by ``--against`` (extracted with ``git archive``, its own ``gunicorn.conf.py``
included) beside this tree, each on its own copy of one seeded SQLite database, and runs the
passkey, password or certificate sign-in against both in alternating slices. Usage::

    python bench/side_by_side.py passkey --against f7653bb [--duration 20] [--rounds 10]

The certificate sign-in puts an nginx of its own in front of each (as bench/cert_login.py
does), each with its own database and PKI.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import cert_login, passkey_login, password_login
from bench._harness import ROOT, gunicorn, interleaved
from tests.e2e.proxies import servers

LIFTED = {
    "KEYSTILE_LOGIN_LIMIT_PER_ADDRESS": "1000000/minute",
    "KEYSTILE_CHALLENGE_LIMIT_PER_ADDRESS": "1000000/minute",
    "KEYSTILE_LOGIN_LIMIT_PER_ACCOUNT": "1000000/minute",
}


def extract(commit: str, into: Path) -> None:
    into.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def certificate_stack(
    stack: contextlib.ExitStack, root: Path, directory: Path
) -> tuple[Callable[[int], bool], list[int]]:
    """nginx in front of gunicorn serving the tree ``root``; the sign-in and the pids."""
    import ssl

    directory.mkdir()
    port, app_port = servers.free_ports(2)
    env, config, identity, ca_file = cert_login.prepare(directory, port=port, app_port=app_port)
    tls = ssl.create_default_context(cafile=str(ca_file))
    tls.load_cert_chain(identity.cert_path, identity.key_path)
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{app_port}",
        "--workers",
        "1",
        "--worker-class",
        "sync",  # as bench/_harness.gunicorn: both trees on the same worker class
        "--threads",
        "1",
        "--no-control-socket",
        "--worker-tmp-dir",
        str(directory),
        "--log-level",
        "warning",
        "app:create_app()",
    ]
    app = stack.enter_context(
        servers.Server(
            cmd,
            what="gunicorn",
            log=directory / "gunicorn.log",
            env=env,
            cwd=root,
            probe=lambda: servers.answers(app_port),
        )
    )
    nginx = stack.enter_context(
        servers.proxy("nginx", config, port=port, prefix=directory / "nginx", trust=tls)
    )
    app.wait()
    nginx.wait()
    return (lambda _: cert_login.sign_in(port, tls)), [app.pid, nginx.pid]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("bench", choices=["passkey", "password", "certificate"])
    ap.add_argument("--against", required=True, help="the older commit")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per tree")
    ap.add_argument("--rounds", type=int, default=10, help="alternating slices")
    ap.add_argument("--users", type=int, default=200)
    args = ap.parse_args()
    clients = 2

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        extract(args.against, base / "old")
        seeded = base / "seed.sqlite3"
        creds = []
        if args.bench == "passkey":
            creds = passkey_login.seed(f"sqlite:///{seeded}", args.users)
        elif args.bench == "password":
            password_login.seed(f"sqlite:///{seeded}", args.users)
        trees = {"this tree": ROOT, args.against: base / "old"}
        ops: dict[str, Callable[[int], bool]] = {}
        pids: list[int] = []
        with contextlib.ExitStack() as stack:
            for label, root in trees.items():
                if args.bench == "certificate":
                    op, started = certificate_stack(stack, root, base / f"stack{len(ops)}")
                    pids += started
                    if not op(0):
                        raise SystemExit(f"warm-up sign-in failed ({label})")
                    ops[f"{args.bench}: {label}"] = op
                    continue
                db = base / f"{len(ops)}.sqlite3"
                shutil.copy(seeded, db)
                env = {
                    "KEYSTILE_ENV": "testing",
                    "KEYSTILE_SECRET_KEY": "b" * 8 + "enchmark-" * 6,
                    "KEYSTILE_DATABASE_URL": f"sqlite:///{db}",
                    "KEYSTILE_ORIGIN": "http://localhost",
                    **LIFTED,
                }
                port, pid = stack.enter_context(gunicorn(env, root=root))
                pids.append(pid)
                op = (
                    passkey_login.make_op(port, creds, clients, with_page=False)
                    if args.bench == "passkey"
                    else password_login.make_sign_in(port, args.users)
                )
                if not op(0):
                    raise SystemExit(f"warm-up sign-in failed ({label})")
                ops[f"{args.bench}: {label}"] = op
            runs = interleaved(
                ops, duration=args.duration, rounds=args.rounds, clients=clients, server_pids=pids
            )
    for run in runs:
        print(run.line())
    new, old = runs
    print(
        f"this tree: {new.rate / old.rate:.1%} of {args.against}'s sign-ins/s, "
        f"{new.cpu_ms_per_op / old.cpu_ms_per_op:.1%} of its server CPU per sign-in"
    )


if __name__ == "__main__":
    main()

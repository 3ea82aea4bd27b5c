"""Server CPU per request of a bare WSGI callable, an empty Flask view and Keystile's
``/healthz``, each under the same gunicorn (one sync worker) and client.

This is the floor under every sign-in benchmark: a passkey sign-in is three requests, a
password sign-in three, a certificate sign-in two; each pays at least what an empty Flask
view costs here before any of Keystile runs.

Usage: python bench/framework_floor.py [--duration 5]
"""

from __future__ import annotations

import argparse
import functools
import http.client
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import gunicorn, load


def get(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/healthz", headers={"User-Agent": "keystile-bench"})
    ok = conn.getresponse().status == 200
    conn.close()
    return ok


def _get_any(port: int, _: int) -> bool:
    return get(port)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per application")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        from app.cli.dbcmd import upgrade

        upgrade(url)
        keystile = {
            "KEYSTILE_ENV": "testing",
            "KEYSTILE_SECRET_KEY": "b" * 8 + "enchmark-" * 6,
            "KEYSTILE_DATABASE_URL": url,
            "KEYSTILE_ORIGIN": "http://localhost",
        }
        apps = [
            ("bare WSGI callable", "bench._bare:raw", {}),
            ("empty Flask view", "bench._bare:flask_app", {}),
            ("Keystile GET /healthz", "app:create_app()", keystile),
        ]
        print(f"gunicorn sync, 1 worker, 2 client threads, {args.duration:.0f} s each")
        for label, target, env in apps:
            with gunicorn(env, app=target) as (port, pid):
                for _ in range(200):  # warm-up
                    get(port)
                run = load(
                    label,
                    functools.partial(_get_any, port),
                    duration=args.duration,
                    clients=2,
                    server_pid=pid,
                )
            print(run.line())


if __name__ == "__main__":
    main()

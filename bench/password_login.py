"""Complete password sign-ins against gunicorn on loopback, beside the argon2 floor.

One sign-in = GET /login, POST /login, GET /api/session, each a new connection (gunicorn's
sync worker closes it). The floor is what one core does when it only verifies argon2id
hashes at the same parameters: a sign-in can never be faster than one verification, so
``sign-ins/s ÷ floor`` is the share of the server's time spent on the password itself. The
floor is measured between the sign-in slices, so that both see the same machine load.

The bare bound is the same client against ``bench._bare.BarePasswordSignIn`` under the same
gunicorn: the three requests and one verification with nothing else (no session, CSRF token,
throttling, database or audit row). Its ratio is the most any implementation of these three
requests reaches here; Keystile's can only approach it.

Usage: python bench/password_login.py [--duration 10] [--rounds 5] [--workers 1]
                                     [--database-url URL]

Results (2026-11-27; Debian 12 VM with 2 vCPUs shared with other builds, SQLite, one sync
worker, 2 client threads, 10 s per measurement in 5 alternating slices), five runs:

    argon2id floor          49.8-51.7 verifications/s  (about 19.5 ms each)
    password sign-in        37.2-39.6 /s   24.7-26.3 ms server CPU   72.7-76.8 % of the floor
    bare bound              46.7-49.4 /s   19.7-20.9 ms server CPU   90.3-95.8 % of the floor

Keystile's own work is the 4.5-5.5 ms of CPU between the two (GET /login renders the page and
starts the cookie session; POST /login checks the CSRF token and both throttles, looks the
account up, writes the session, the audit row and the last use in one transaction). The
90 % target would leave it about 1.3 ms.
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._bare import PASSWORD
from bench._harness import Run, gunicorn, load

CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


def argon2_floor(seconds: float = 3.0) -> float:
    from app.services.passwords import HashParameters, Passwords

    pw = Passwords(HashParameters())
    h = pw.hash(PASSWORD)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        pw.verify(h, PASSWORD)
        n += 1
    return n / (time.perf_counter() - t0)


def seed(url: str, users: int) -> None:
    from sqlalchemy.orm import Session

    from app.cli.dbcmd import upgrade
    from app.db import make_engine
    from app.models import Credential, CredentialKind, User, normalize_username, utcnow
    from app.services.passwords import HashParameters, Passwords

    upgrade(url)
    digest = Passwords(HashParameters()).hash(PASSWORD)
    engine = make_engine(url)
    with Session(engine) as db:
        for i in range(users):
            name = f"bench{i}"
            u = User(
                username=name, username_normalized=normalize_username(name), created_at=utcnow()
            )
            u.credentials.append(
                Credential(kind=CredentialKind.PASSWORD, secret_hash=digest, created_at=utcnow())
            )
            db.add(u)
        db.commit()
    engine.dispose()


def cookie_header(resp: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for value in resp.headers.get_all("Set-Cookie") or []:
        name, _, rest = value.partition("=")
        jar[name] = rest.split(";", 1)[0]


def request(
    port: int,
    method: str,
    path: str,
    jar: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": f"127.0.0.1:{port}", "User-Agent": "keystile-bench"}
    if jar:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items() if v)
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    cookie_header(resp, jar)
    conn.close()
    return resp.status, data


def make_sign_in(port: int, users: int) -> Callable[[int], bool]:
    """A complete sign-in of account ``bench<i % users>``: page, form, session."""
    from urllib.parse import urlencode

    def sign_in(i: int) -> bool:
        jar: dict[str, str] = {}
        status, page = request(port, "GET", "/login", jar)
        token = CSRF.search(page)
        if status != 200 or token is None:
            return False
        form = urlencode(
            {
                "username": f"bench{i % users}",
                "password": PASSWORD,
                "csrf_token": token.group(1).decode(),
            }
        ).encode()
        status, _ = request(port, "POST", "/login", jar, form)
        if status != 303:
            return False
        status, body = request(port, "GET", "/api/session", jar)
        return status == 200 and b'"authenticated":true' in body

    return sign_in


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    ap.add_argument("--rounds", type=int, default=5, help="alternating slices per measurement")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--clients", type=int, default=0, help="client threads (default workers+1)")
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    clients = args.clients or args.workers + 1
    slice_seconds = args.duration / args.rounds

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        seed(url, args.users)
        env = {
            "KEYSTILE_ENV": "testing",
            "KEYSTILE_SECRET_KEY": "b" * 8 + "enchmark-" * 6,
            "KEYSTILE_DATABASE_URL": url,
            "KEYSTILE_ORIGIN": "http://localhost",
            # One client address signs in hundreds of times: lift the throttles.
            "KEYSTILE_LOGIN_LIMIT_PER_ADDRESS": "1000000/minute",
            "KEYSTILE_LOGIN_LIMIT_PER_ACCOUNT": "1000000/minute",
        }
        with (
            gunicorn(env, workers=args.workers) as (port, pid),
            gunicorn({}, workers=args.workers, app="bench._bare:BarePasswordSignIn()") as (
                bare_port,
                bare_pid,
            ),
        ):
            ops = {
                "password sign-in": make_sign_in(port, args.users),
                "bare bound (no Keystile)": make_sign_in(bare_port, args.users),
            }
            for op in ops.values():
                if not op(0):
                    raise SystemExit("warm-up sign-in failed")
            floors: list[float] = []
            slices: dict[str, list[Run]] = {label: [] for label in ops}
            for _ in range(args.rounds):  # the floor between slices: the same machine load
                floors.append(argon2_floor(slice_seconds))
                for label, op in ops.items():
                    slices[label].append(
                        load(
                            label,
                            op,
                            duration=slice_seconds,
                            clients=clients,
                            server_pids=[pid, bare_pid],
                        )
                    )
    floor = statistics.fmean(floors)
    print(
        f"argon2id floor (m=19456,t=2,p=1, one core): {floor:8.1f} verifications/s "
        f"(slices {min(floors):.1f}-{max(floors):.1f})"
    )
    run, bare = (Run.merged(label, parts) for label, parts in slices.items())
    print(run.line())
    print(bare.line())
    print(
        f"ratio per worker: {run.rate / args.workers / floor:.1%} of the floor "
        f"(target >= 90%), {run.failures} failures; the bare bound reaches "
        f"{bare.rate / args.workers / floor:.1%}"
    )


if __name__ == "__main__":
    main()

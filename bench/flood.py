"""A password-spraying flood against Keystile, while legitimate people sign in (issue 17).

Keystile runs under gunicorn with a server layout (``--layout``):

* ``gthread`` (default): ``app.gunicorn_conf`` as deployed: one gthread worker per core,
  eight threads each, the hash budget's slots split between the workers;
* ``sync``: four sync workers, the layout the deployment guide recommended before.

The flood sends wrong passwords for random usernames (most unknown, some real) at a multiple
of this machine's argon2id capacity (measured first, on every core), each guess from one of
1,000 client addresses given in ``X-Forwarded-For`` (the loopback client is a trusted proxy,
as nginx is in a deployment). Beside it, once a second each, a legitimate client signs in
with a password (page, form, session check), with a passkey (options, software
authenticator, verify, session check), and a signed-in browser asks ``GET /api/session``.

Each scenario prints p50, p99 and success for each of the three, and what the flood got
back (status counts). It is a benchmark, not a test: run it on a quiet machine.

Usage: python bench/flood.py [--duration 20] [--layout gthread|sync] [--rates 0,1,3,10]
                             [--flood-threads 48]

Results: docs/deployment.md, "Sizing for a flood".
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._bare import PASSWORD
from bench._harness import ROOT, free_port, wait_for_port
from bench.passkey_login import ORIGIN, Browser, seed
from bench.password_login import CSRF, argon2_floor
from tests.support.soft_authenticator import SoftAuthenticator

ADDRESSES = [f"10.{n // 250}.{n % 250}.{1 + n % 7}" for n in range(1000)]
OWNER_ADDRESS = "192.0.2.1"


@dataclass
class Probe:
    """One legitimate client's sign-ins in a scenario."""

    label: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def line(self) -> str:
        done = len(self.latencies) + self.failures
        if not self.latencies:
            return f"  {self.label:<22} no success in {done}"
        q = statistics.quantiles(self.latencies, n=100, method="inclusive") if len(
            self.latencies) > 1 else [self.latencies[0]] * 99
        return (f"  {self.label:<22} p50 {q[49] * 1000:8.1f} ms  p99 {q[98] * 1000:8.1f} ms  "
                f"success {len(self.latencies)}/{done}")


def seed_owner(url: str) -> None:
    """``owner``, who signs in with a password."""
    from sqlalchemy.orm import Session

    from app.db import make_engine
    from app.models import Credential, CredentialKind, User, normalize_username, utcnow
    from app.services.passwords import HashParameters, Passwords

    engine = make_engine(url)
    with Session(engine) as db:
        user = User(username="owner", username_normalized=normalize_username("owner"),
                    created_at=utcnow())
        user.credentials.append(Credential(
            kind=CredentialKind.PASSWORD, secret_hash=Passwords(HashParameters()).hash(PASSWORD),
            created_at=utcnow()))
        db.add(user)
        db.commit()
    engine.dispose()


@contextlib.contextmanager
def keystile(env: dict[str, str], layout: str) -> Iterator[int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        shape = (["--worker-class", "sync", "--threads", "1", "--workers", "4"]
                 if layout == "sync"
                 else ["-c", "python:app.gunicorn_conf"])
        cmd = [sys.executable, "-m", "gunicorn", *shape, "--bind", f"127.0.0.1:{port}",
               "--no-control-socket", "--log-level", "error", "--worker-tmp-dir", tmp,
               "app:create_app()"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env})
        try:
            wait_for_port(port, proc)
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def call(port: int, method: str, path: str, jar: dict[str, str], *, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    sent = {"Host": "localhost", "User-Agent": "keystile-flood", **(headers or {})}
    if jar:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items() if v)
    if body is not None and "Content-Type" not in sent:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            jar[name] = rest.split(";", 1)[0]
        return resp.status, data
    finally:
        conn.close()


def page(port: int, address: str) -> tuple[dict[str, str], str]:
    jar: dict[str, str] = {}
    status, body = call(port, "GET", "/login", jar, headers={"X-Forwarded-For": address})
    token = CSRF.search(body)
    if status != 200 or token is None:
        raise RuntimeError(f"sign-in page answered {status}")
    return jar, token.group(1).decode()


def password_sign_in(port: int) -> bool:
    headers = {"X-Forwarded-For": OWNER_ADDRESS}
    jar, token = page(port, OWNER_ADDRESS)
    form = urlencode({"username": "owner", "password": PASSWORD, "csrf_token": token})
    status, _ = call(port, "POST", "/login", jar, body=form.encode(), headers=headers)
    if status != 303:
        return False
    status, body = call(port, "GET", "/api/session", jar, headers=headers)
    return status == 200 and b'"method":"password"' in body


def signed_in_jar(port: int) -> dict[str, str]:
    """The cookies of a browser that signed in (once, before any flood)."""
    jar, token = page(port, OWNER_ADDRESS)
    form = urlencode({"username": "owner", "password": PASSWORD, "csrf_token": token})
    status, _ = call(port, "POST", "/login", jar, body=form.encode(),
                     headers={"X-Forwarded-For": OWNER_ADDRESS})
    if status != 303:
        raise SystemExit(f"warm-up sign-in answered {status}")
    return jar


def flood(port: int, rate: float, threads: int, stop: threading.Event,
          statuses: Counter[int]) -> list[threading.Thread]:
    """Guesses at ``rate`` per second in all, paced per thread; a slow server slows them."""
    lock = threading.Lock()

    def guesser(n: int) -> None:
        rng = random.Random(n)
        jar, token = page(port, ADDRESSES[n % len(ADDRESSES)])
        interval = threads / rate
        due = time.monotonic() + rng.random() * interval
        while not stop.is_set():
            time.sleep(max(0.0, due - time.monotonic()))
            due = max(due + interval, time.monotonic() - interval)
            user = (f"bench{rng.randrange(8)}" if rng.random() < 0.1
                    else f"user{rng.randrange(50000)}")
            form = urlencode({"username": user, "password": f"guess{rng.random()}",
                              "csrf_token": token}).encode()
            try:
                status, _ = call(port, "POST", "/login", dict(jar), body=form, timeout=10,
                                 headers={"X-Forwarded-For": rng.choice(ADDRESSES)})
            except OSError:
                status = 0
            with lock:
                statuses[status] += 1

    workers = [threading.Thread(target=guesser, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    return workers


def probe(label: str, op: Callable[[], bool], stop: threading.Event) -> tuple[Probe,
                                                                               threading.Thread]:
    result = Probe(label)

    def run() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                ok = op()
            except (OSError, RuntimeError, http.client.HTTPException):
                ok = False
            took = time.monotonic() - started
            if ok:
                result.latencies.append(took)
            else:
                result.failures += 1
            stop.wait(max(0.0, 1.0 - took))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return result, thread


def scenario(port: int, creds: list[object], *, rate: float, duration: float,
             flood_threads: int, session_jar: dict[str, str]) -> tuple[list[Probe],
                                                                         Counter[int]]:
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    guessers = flood(port, rate, flood_threads, stop, statuses) if rate else []
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
    browser = Browser(port)
    turn = iter(range(10**9))

    def passkey() -> bool:
        return browser.load_page() and browser.sign_in(
            creds[next(turn) % len(creds)], authenticator)  # type: ignore[arg-type]

    def signed_in() -> bool:
        status, body = call(port, "GET", "/api/session", session_jar)
        return status == 200 and b'"authenticated":true' in body

    probes = [probe("password sign-in", lambda: password_sign_in(port), stop),
              probe("passkey sign-in", passkey, stop),
              probe("signed-in request", signed_in, stop)]
    time.sleep(duration)
    stop.set()
    for _, thread in probes:
        thread.join(35)
    for g in guessers:
        g.join(15)
    return [p for p, _ in probes], statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per scenario")
    ap.add_argument("--layout", choices=["gthread", "sync"], default="gthread")
    ap.add_argument("--rates", default="0,1,3,10",
                    help="flood rates, as multiples of the argon2id capacity (0: idle)")
    ap.add_argument("--flood-threads", type=int, default=48)
    args = ap.parse_args()

    cores = len(os.sched_getaffinity(0))
    capacity = argon2_floor(2.0) * cores
    print(f"argon2id capacity: {capacity:.0f} verifications/s on {cores} cores; "
          f"layout {args.layout}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'flood.sqlite3'}"
        creds: list[object] = list(seed(url, 8))
        seed_owner(url)
        env = {"KEYSTILE_ENV": "testing", "KEYSTILE_SECRET_KEY": "f" * 8 + "loodbench-" * 6,
               "KEYSTILE_DATABASE_URL": url, "KEYSTILE_ORIGIN": ORIGIN,
               "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1"}
        if os.environ.get("KEYSTILE_REDIS_URL"):
            env["KEYSTILE_REDIS_URL"] = os.environ["KEYSTILE_REDIS_URL"]
        with keystile(env, args.layout) as port:
            session_jar = signed_in_jar(port)
            for multiple in (float(r) for r in args.rates.split(",")):
                label = "idle" if not multiple else (
                    f"spray {multiple:g}x ({multiple * capacity:.0f}/s)")
                probes, statuses = scenario(port, creds, rate=multiple * capacity,
                                            duration=args.duration,
                                            flood_threads=args.flood_threads,
                                            session_jar=session_jar)
                print(label)
                for p in probes:
                    print(p.line())
                if statuses:
                    got = ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(statuses.items()))
                    print(f"  flood answers          {got}")


if __name__ == "__main__":
    main()

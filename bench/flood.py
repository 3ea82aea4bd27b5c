"""A password-spraying flood against Keystile, while legitimate people sign in (issue 17).

Keystile runs as the deployment guide says: gunicorn with ``app.gunicorn_conf`` (or, with
``--layout sync``, the four sync workers the guide recommended before), Redis for the
throttles when ``KEYSTILE_REDIS_URL`` is set, and nginx in front running the configuration
``keystile proxy-config nginx`` prints, unmodified (``--proxy none``: gunicorn alone, the
client's address in ``X-Forwarded-For`` from the trusted loopback).

The argon2id capacity of this machine (every core) is measured first. Then each scenario
runs for ``--duration`` seconds while a legitimate client signs in once a second with each
method: a password (page, form, session check) from a new browser each time and from a
browser that signed in to the account before (its device token kept), a passkey
(options, software authenticator, verify, session check), a client certificate (a new TLS
handshake, ``GET /login``, session check; through nginx only), and a browser already signed
in asks ``GET /api/session``:

1. idle;
2. spraying: wrong passwords for random usernames (most unknown) at 1x, 3x and 10x the
   capacity, each guess from one of 1,000 client addresses: the client socket is bound to
   127.0.x.y, and nginx tells Keystile in ``X-Forwarded-For``;
3. the floor: the highest spray rate, the flood and the legitimate clients all at a second
   nginx in front of the same Keystile, rendered with ``--login-rate 1``: the flood costs
   the machine its TLS handshakes and the proxy's refusals but (almost) nothing in
   Keystile. Where the flood's own clients share the cores, no Keystile could sign people
   in faster than this (a new browser's password sign-in competes with the flood for the
   one a second);
4. a targeted account: one guess a second naming the password user, from rotating
   addresses, while it signs in;
5. one address, 16 connections guessing as fast as they are answered.

The flood runs in a process of its own, as on an attacker's machine, but on the same cores.
For each scenario it prints p50, p99 and success per method, what the flood got back (5xx
from Keystile or nginx would show here) and the cores used. It is a benchmark, not a test.

Usage: python bench/flood.py [--duration 60] [--layout gthread|sync] [--proxy nginx|none]
                             [--rates 1,3,10] [--login-rate N] [--database-url URL]
                             [--attacker-nice 19]
                             [--scenarios idle,spray,floor,targeted,one-address]

Results: docs/deployment.md, "Sizing for a flood".
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import re
import resource
import secrets
import ssl
import statistics
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
from bench._harness import process_tree_cpu_seconds, server_tls
from bench.admin_scale import prepare_database
from bench.passkey_login import add_passkey_users
from bench.password_login import CSRF, argon2_floor
from tests.e2e.proxies import servers
from tests.support.pki import make_pki
from tests.support.soft_authenticator import SoftAuthenticator, SoftCredential, unb64url

SESSION = "__Host-keystile-session"
DEVICE = "__Host-keystile-device"
META_CSRF = re.compile(rb'name="csrf-token" content="([^"]+)"')
Jar = dict[str, str]


@dataclass
class Target:
    """Where clients connect: nginx over TLS, or gunicorn over plain http."""

    port: int
    tls: ssl.SSLContext | None = None
    #: a context presenting the pinned client certificate
    cert_tls: ssl.SSLContext | None = None

    def connect(
        self, source: str | None = None, *, with_certificate: bool = False, timeout: float = 30
    ) -> http.client.HTTPConnection:
        bind = (source, 0) if source and self.tls else None
        if self.tls is None:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        context = self.cert_tls if with_certificate else self.tls
        return http.client.HTTPSConnection(
            "localhost", self.port, timeout=timeout, context=context, source_address=bind
        )

    def call(
        self,
        method: str,
        path: str,
        jar: Jar,
        *,
        body: bytes | None = None,
        source: str = "127.200.0.1",
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, bytes]:
        conn = self.connect(source, timeout=timeout)
        sent = {"User-Agent": "keystile-flood", **(headers or {})}
        if self.tls is None:  # no proxy: say who the client is, as nginx would
            sent["X-Forwarded-For"] = source
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


@dataclass
class Probe:
    """One legitimate client's sign-ins in a scenario."""

    label: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def line(self) -> str:
        done = len(self.latencies) + self.failures
        if not self.latencies:
            return f"  {self.label:<24} no success in {done}"
        q = (
            statistics.quantiles(self.latencies, n=100, method="inclusive")
            if len(self.latencies) > 1
            else [self.latencies[0]] * 99
        )
        return (
            f"  {self.label:<24} p50 {q[49] * 1000:8.1f} ms  p99 {q[98] * 1000:8.1f} ms  "
            f"success {len(self.latencies)}/{done} ({len(self.latencies) / done:.0%})"
        )


# -- the deployment ----------------------------------------------------------------------------


def prepare(
    directory: Path,
    *,
    origin: str,
    port: int,
    app_port: int,
    floor_port: int,
    users: int,
    proxy_options: tuple[str, ...] = (),
    database_url: str | None = None,
) -> tuple[dict[str, str], tuple[str, str], list[SoftCredential], ssl.SSLContext, ssl.SSLContext]:
    """The database (``owner`` with a password and a pinned certificate, ``bench<n>`` with a
    passkey each), the proxy configurations (the one measured, and the floor's, which lets
    one password sign-in a second through) and the clients' TLS contexts."""
    from sqlalchemy.orm import Session

    from app import create_app
    from app.db import engine_of

    pki = make_pki(directory / "pki")
    tls_cert, tls_key = server_tls(pki, directory)
    env = {
        "KEYSTILE_ENV": "production",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": database_url or f"sqlite:///{directory / 'flood.sqlite3'}",
        "KEYSTILE_INSTANCE_PATH": str(directory / "instance"),
        "KEYSTILE_ORIGIN": origin,
        "KEYSTILE_CERT_HEADER_FORMAT": "nginx",
        "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1",
        "KEYSTILE_CERT_LOGIN": "auto",
    }
    if os.environ.get("KEYSTILE_REDIS_URL"):
        env["KEYSTILE_REDIS_URL"] = os.environ["KEYSTILE_REDIS_URL"]
    app = create_app({name.removeprefix("KEYSTILE_").lower(): v for name, v in env.items()})
    cli = app.test_cli_runner()
    for args in (
        ["db", "upgrade"],
        ["user", "create", "owner", "--password-stdin"],
        ["cert", "pin", "owner", str(pki.self_signed.cert_path)],
    ):
        result = cli.invoke(args=args, input=PASSWORD + "\n")
        if result.exit_code != 0:
            raise SystemExit(f"keystile {' '.join(args)}: {result.output}")

    def proxy_config(port: int, prefix: str, *options: str) -> str:
        args = [
            *("proxy-config", "nginx", "--listen", f"127.0.0.1:{port}"),
            *("--upstream", f"127.0.0.1:{app_port}", "--tls-cert", str(tls_cert)),
            *("--tls-key", str(tls_key), "--prefix", str(directory / prefix), *options),
        ]
        result = cli.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"keystile {' '.join(args)}: {result.output}")
        return str(result.stdout)

    configs = (
        proxy_config(port, "nginx", *proxy_options),
        proxy_config(floor_port, "nginx-floor", "--login-rate", "1"),
    )
    with Session(engine_of(app)) as db:
        creds = add_passkey_users(db, SoftAuthenticator(origin=origin, rp_id="localhost"), users)
    engine_of(app).dispose()
    tls = ssl.create_default_context(cafile=str(pki.ca.cert_path))
    cert_tls = ssl.create_default_context(cafile=str(pki.ca.cert_path))
    cert_tls.load_cert_chain(pki.self_signed.cert_path, pki.self_signed.key_path)
    return env, configs, creds, tls, cert_tls


@contextlib.contextmanager
def deployment(
    directory: Path,
    *,
    layout: str,
    proxy: str,
    users: int,
    proxy_options: tuple[str, ...] = (),
    database_url: str | None = None,
) -> Iterator[tuple[Target, Target | None, list[SoftCredential], list[int]]]:
    """Keystile (and nginx) running; yields the target, the floor's target (nginx with
    ``--login-rate 1``, in front of the same Keystile), the passkeys and the pids of
    Keystile's gunicorn (and of both nginx masters)."""
    port, app_port, floor_port = servers.free_ports(3)
    front = port if proxy == "nginx" else app_port
    origin = f"https://localhost:{port}" if proxy == "nginx" else "http://localhost"
    env, configs, creds, tls, cert_tls = prepare(
        directory,
        origin=origin,
        port=port,
        app_port=app_port,
        floor_port=floor_port,
        users=users,
        proxy_options=proxy_options,
        database_url=database_url,
    )
    shape = (
        ["--worker-class", "sync", "--threads", "1", "--workers", "4"]
        if layout == "sync"
        else ["-c", "python:app.gunicorn_conf"]
    )
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        *shape,
        "--bind",
        f"127.0.0.1:{app_port}",
        "--no-control-socket",
        "--log-level",
        "error",
        "--worker-tmp-dir",
        str(directory),
        "app:create_app()",
    ]
    with contextlib.ExitStack() as running:
        app = running.enter_context(
            servers.Server(
                cmd,
                what="gunicorn",
                log=directory / "gunicorn.log",
                env=env,
                probe=lambda: servers.answers(app_port),
            )
        )
        app.wait()
        if proxy == "nginx":
            nginx, floor = (
                running.enter_context(
                    servers.proxy("nginx", config, port=at, prefix=directory / name, trust=tls)
                )
                for config, at, name in zip(
                    configs, (port, floor_port), ("nginx", "nginx-floor"), strict=True
                )
            )
            nginx.wait()
            floor.wait()
            yield (
                Target(front, tls, cert_tls),
                Target(floor_port, tls, cert_tls),
                creds,
                [app.pid, nginx.pid, floor.pid],
            )
        else:
            yield Target(front), None, creds, [app.pid]


# -- the legitimate clients -------------------------------------------------------------------


def page(target: Target, source: str, jar: Jar | None = None) -> tuple[Jar, str, str]:
    """A browser's sign-in page (a new browser's, or one holding ``jar``'s cookies): its
    cookies, the form's and the page's CSRF tokens."""
    jar = dict(jar or {})
    status, body = target.call("GET", "/login", jar, source=source)
    form, meta = CSRF.search(body), META_CSRF.search(body)
    if status != 200 or form is None:
        raise RuntimeError(f"sign-in page answered {status}")
    return jar, form.group(1).decode(), (meta or form).group(1).decode()


def password_sign_in(
    target: Target, username: str = "owner", source: str = "127.200.0.1", device: Jar | None = None
) -> bool:
    """A password sign-in from a new browser, or from one holding ``device``'s token."""
    jar, token, _ = page(target, source, device)
    form = urlencode({"username": username, "password": PASSWORD, "csrf_token": token})
    status, _ = target.call("POST", "/login", jar, body=form.encode(), source=source)
    if status != 303:
        return False
    status, body = target.call("GET", "/api/session", jar, source=source)
    return status == 200 and b'"method":"password"' in body


def passkey_sign_in(target: Target, cred: SoftCredential, authenticator: SoftAuthenticator) -> bool:
    jar, _, token = page(target, "127.200.0.2")
    headers = {"Content-Type": "application/json", "X-CSRFToken": token}
    status, options = target.call(
        "POST", "/webauthn/login/options", jar, body=b"{}", headers=headers, source="127.200.0.2"
    )
    if status != 200:
        return False
    assertion = authenticator.authenticate(
        cred, challenge=unb64url(json.loads(options)["challenge"])
    )
    status, _ = target.call(
        "POST",
        "/webauthn/login/verify",
        jar,
        body=json.dumps(assertion).encode(),
        headers=headers,
        source="127.200.0.2",
    )
    if status != 200:
        return False
    status, body = target.call("GET", "/api/session", jar, source="127.200.0.2")
    return status == 200 and b'"method":"passkey"' in body


def certificate_sign_in(target: Target) -> bool:
    conn = target.connect("127.200.0.3", with_certificate=True)
    try:
        conn.request("GET", "/login")
        resp = conn.getresponse()
        resp.read()
        cookies = [
            c.split(";", 1)[0]
            for c in resp.headers.get_all("Set-Cookie") or []
            if c.startswith(SESSION + "=")
        ]
        if resp.status != 303 or not cookies:
            return False
        conn.request("GET", "/api/session", headers={"Cookie": cookies[0]})
        resp = conn.getresponse()
        return resp.status == 200 and b'"method":"certificate"' in resp.read()
    finally:
        conn.close()


def signed_in_jar(target: Target, source: str = "127.200.0.4") -> Jar:
    """The cookies of a browser that signed in with its passkey-less password, before any
    flood."""
    jar, token, _ = page(target, source)
    form = urlencode({"username": "owner", "password": PASSWORD, "csrf_token": token})
    status, _ = target.call("POST", "/login", jar, body=form.encode(), source=source)
    if status != 303:
        raise SystemExit(f"warm-up sign-in answered {status}")
    return jar


def known_browser(target: Target) -> Jar:
    """The device token of a browser that signed in to the owner's account before any
    flood (the cookie alone: each of its sign-ins starts signed out)."""
    jar = signed_in_jar(target, source="127.200.0.5")
    if DEVICE not in jar:
        raise SystemExit("the warm-up sign-in set no device token")
    return {DEVICE: jar[DEVICE]}


def probe(
    label: str, op: Callable[[], bool], stop: threading.Event, every: float = 1.0
) -> tuple[Probe, threading.Thread]:
    result = Probe(label)

    def run() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                ok = op()
            except (OSError, RuntimeError, http.client.HTTPException, ValueError):
                ok = False
            took = time.monotonic() - started
            if ok:
                result.latencies.append(took)
            else:
                result.failures += 1
            stop.wait(max(0.0, every - took))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return result, thread


# -- the attackers -----------------------------------------------------------------------------


def unverified(target: Target) -> Target:
    """``target`` as the flood reaches it: an attacker checks no server certificate, which
    spares the driver (on the same cores as the server) a signature check per guess."""
    if target.tls is None:
        return target
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return Target(target.port, context)


#: starts an attack's threads, which stop when the event is set and count what they got back
Attack = Callable[[threading.Event, Counter[int]], list[threading.Thread]]


def guessers(
    target: Target,
    *,
    rate: float,
    threads: int,
    addresses: list[str],
    username: Callable[[random.Random], str],
    stop: threading.Event,
    statuses: Counter[int],
) -> list[threading.Thread]:
    """Guesses at ``rate`` a second in all (0: as fast as answered), paced per thread."""
    lock = threading.Lock()

    def guesser(n: int) -> None:
        rng = random.Random(n)
        try:
            jar, token, _ = page(target, addresses[n % len(addresses)])
        except (OSError, RuntimeError, http.client.HTTPException):
            with lock:
                statuses[0] += 1
            return
        interval = threads / rate if rate else 0.0
        due = time.monotonic() + rng.random() * interval
        while not stop.is_set():
            if interval:
                stop.wait(max(0.0, due - time.monotonic()))
                due = max(due + interval, time.monotonic() - interval)
            form = urlencode(
                {"username": username(rng), "password": f"guess{rng.random()}", "csrf_token": token}
            ).encode()
            try:
                status, _ = target.call(
                    "POST", "/login", dict(jar), body=form, timeout=30, source=rng.choice(addresses)
                )
            except (OSError, http.client.HTTPException):
                status = 0
            with lock:
                statuses[status] += 1

    started = [threading.Thread(target=guesser, args=(n,), daemon=True) for n in range(threads)]
    for t in started:
        t.start()
    return started


SPRAY_ADDRESSES = [f"127.{1 + n // 250}.{n % 250}.{1 + n % 5}" for n in range(1000)]


def spray_name(rng: random.Random) -> str:
    return f"bench{rng.randrange(50)}" if rng.random() < 0.1 else f"user{rng.randrange(50000)}"


def scenario(
    target: Target,
    creds: list[SoftCredential],
    session_jar: Jar,
    device: Jar,
    *,
    origin: str,
    duration: float,
    attack: Attack | None,
    attacker_nice: int = 0,
) -> tuple[list[Probe], Counter[int]]:
    """The legitimate clients at ``target`` while ``attack`` runs; passkeys are signed for
    ``origin``, Keystile's own, whichever proxy they go through."""
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    attacker = _attacker(attack, attacker_nice) if attack else None
    authenticator = SoftAuthenticator(origin=origin, rp_id="localhost")
    turn = iter(range(10**9))

    def signed_in() -> bool:
        status, body = target.call("GET", "/api/session", session_jar, source="127.200.0.4")
        return status == 200 and b'"authenticated":true' in body

    ops: list[tuple[str, Callable[[], bool]]] = [
        ("password, new browser", lambda: password_sign_in(target)),
        (
            "password, known browser",
            lambda: password_sign_in(target, source="127.200.0.5", device=device),
        ),
        (
            "passkey sign-in",
            lambda: passkey_sign_in(target, creds[next(turn) % len(creds)], authenticator),
        ),
        ("signed-in request", signed_in),
    ]
    if target.tls is not None:
        ops.insert(2, ("certificate sign-in", lambda: certificate_sign_in(target)))
    probes = [probe(label, op, stop) for label, op in ops]
    stop.wait(duration)
    stop.set()
    for _, thread in probes:
        thread.join(60)
    if attacker is not None:
        statuses.update(attacker())
    return [p for p, _ in probes], statuses


def _attacker(attack: Attack, nice: int = 0) -> Callable[[], Counter[int]]:
    """Start ``attack`` in a process of its own, as an attacker's machine would be: in this
    one its threads would hold the interpreter lock against the legitimate clients' and
    slow them down in the driver, not in Keystile. ``nice`` lowers its priority, so that
    it takes the cores the servers leave, as a flood from other machines would. Returns
    the call that stops it and gives what its guesses got back."""
    context = multiprocessing.get_context("fork")
    stop, answers = context.Event(), context.SimpleQueue()

    def run() -> None:
        os.nice(nice)
        own_stop: threading.Event = threading.Event()
        statuses: Counter[int] = Counter()
        threads = attack(own_stop, statuses)
        stop.wait()
        own_stop.set()
        for t in threads:
            t.join(60)
        answers.put(dict(statuses))

    process = context.Process(target=run, daemon=True)
    process.start()

    def finish() -> Counter[int]:
        stop.set()
        got: Counter[int] = Counter(answers.get())
        process.join(60)
        return got

    return finish


def _origin(target: Target) -> str:
    return f"https://localhost:{target.port}" if target.tls else "http://localhost"


def _cpu(pids: list[int]) -> list[float]:
    """CPU seconds so far of this process and its ended children (the clients and the
    flood), then each pid's tree."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    return [
        own.ru_utime + own.ru_stime + ended.ru_utime + ended.ru_stime,
        *(process_tree_cpu_seconds(p) for p in pids),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=float, default=60.0, help="seconds per scenario")
    ap.add_argument("--layout", choices=["gthread", "sync"], default="gthread")
    ap.add_argument("--proxy", choices=["nginx", "none"], default="nginx")
    ap.add_argument(
        "--rates", default="1,3,10", help="spray rates, as multiples of the argon2id capacity"
    )
    ap.add_argument("--scenarios", default="idle,spray,floor,targeted,one-address")
    ap.add_argument("--flood-threads", type=int, default=64)
    ap.add_argument(
        "--attacker-nice",
        type=int,
        default=0,
        help="run the flood at this nice value (19: it takes only the cores the servers "
        "leave, as a flood from other machines would)",
    )
    ap.add_argument(
        "--database-url",
        help="a PostgreSQL database to create afresh, as in production "
        "(postgresql://postgres@127.0.0.1:5432/keystile_flood); default SQLite",
    )
    ap.add_argument(
        "--login-rate",
        type=int,
        help="keystile proxy-config's --login-rate (default: the configuration's own)",
    )
    args = ap.parse_args()
    if args.proxy == "nginx" and servers.binary("nginx") is None:
        raise SystemExit("nginx is not installed (apt install nginx)")
    wanted = set(args.scenarios.split(","))

    cores = len(os.sched_getaffinity(0))
    capacity = argon2_floor(2.0) * cores
    print(
        f"argon2id capacity: {capacity:.0f} verifications/s on {cores} cores; gunicorn "
        f"{args.layout}, proxy {args.proxy}, Redis "
        f"{'yes' if os.environ.get('KEYSTILE_REDIS_URL') else 'no (memory)'}, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="keystile-flood-") as tmp,
        deployment(
            Path(tmp),
            layout=args.layout,
            proxy=args.proxy,
            users=50,
            database_url=prepare_database(args.database_url, reuse=False)
            if args.database_url
            else None,
            proxy_options=() if args.login_rate is None else ("--login-rate", str(args.login_rate)),
        ) as (
            target,
            floor,
            creds,
            pids,
        ),
    ):
        session_jar = signed_in_jar(target)
        flood = unverified(target)
        device = known_browser(target)
        #: each scenario: its label, where the legitimate clients sign in, the attack
        runs: list[tuple[str, Target, Attack | None]] = []
        if "idle" in wanted:
            runs.append(("idle", target, None))
        if "spray" in wanted:
            for multiple in (float(r) for r in args.rates.split(",")):
                runs.append(
                    (
                        f"spray {multiple:g}x ({multiple * capacity:.0f}/s, 1,000 addresses)",
                        target,
                        lambda stop, st, m=multiple: guessers(
                            flood,
                            rate=m * capacity,
                            threads=args.flood_threads,
                            addresses=SPRAY_ADDRESSES,
                            username=spray_name,
                            stop=stop,
                            statuses=st,
                        ),
                    )
                )
        if "floor" in wanted and floor is not None:
            highest = max(float(r) for r in args.rates.split(","))
            runs.append(
                (
                    f"floor: spray {highest:g}x ({highest * capacity:.0f}/s), everyone at a "
                    "second nginx that lets 1 password sign-in a second through",
                    floor,
                    lambda stop, st: guessers(
                        unverified(floor),
                        rate=highest * capacity,
                        threads=args.flood_threads,
                        addresses=SPRAY_ADDRESSES,
                        username=spray_name,
                        stop=stop,
                        statuses=st,
                    ),
                )
            )
        if "targeted" in wanted:
            runs.append(
                (
                    "targeted: 1 guess/s naming owner, rotating addresses",
                    target,
                    lambda stop, st: guessers(
                        flood,
                        rate=1.0,
                        threads=1,
                        addresses=SPRAY_ADDRESSES,
                        username=lambda _rng: "owner",
                        stop=stop,
                        statuses=st,
                    ),
                )
            )
        if "one-address" in wanted:
            runs.append(
                (
                    "one address, 16 connections",
                    target,
                    lambda stop, st: guessers(
                        flood,
                        rate=0.0,
                        threads=16,
                        addresses=["127.9.9.9"],
                        username=spray_name,
                        stop=stop,
                        statuses=st,
                    ),
                )
            )
        for label, at, attack in runs:
            before = _cpu(pids)
            probes, statuses = scenario(
                at,
                creds,
                session_jar,
                device,
                origin=_origin(target),
                duration=args.duration,
                attack=attack,
                attacker_nice=args.attacker_nice,
            )
            spent = [
                (after - then) / args.duration
                for then, after in zip(before, _cpu(pids), strict=True)
            ]
            print(label)
            for p in probes:
                print(p.line())
            if statuses:
                got = ", ".join(f"{s or 'no answer'}: {n}" for s, n in sorted(statuses.items()))
                print(f"  attack answers           {got}")
            names = ("this driver (clients, flood)", "Keystile", "nginx", "floor nginx")
            shares = ", ".join(f"{n} {c:.2f}" for n, c in zip(names, spent, strict=False))
            print(f"  cores used               {shares}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

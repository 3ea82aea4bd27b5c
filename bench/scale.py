"""A mixed sign-in workload against one and then two Keystile instances on PostgreSQL, behind
nginx round robin, with the throttle counts in Redis (issue 14).

Each client thread is a browser that loaded the sign-in page once, and then, in turn:
a passkey sign-in (options, a software authenticator's signature, verify), a session check
(``GET /api/session`` with the session just opened), a gate check, a password sign-in
(production argon2id parameters), another gate check, and a certificate sign-in. Every
answer is timed per kind for a fixed duration; a failure is any answer but the expected one.

- **certificate sign-in**: a new TLS connection to nginx with a full handshake presenting
  a pinned client certificate (``ssl_verify_client optional_no_ca``; no session resumed),
  ``GET /login`` (auto mode: 303 and a new session cookie), then ``GET /api/session`` on that
  connection, which must say ``"method":"certificate"`` (as ``bench/cert_login.py``);
- **gate check**: ``GET /gate/...`` with the session cookie of the last passkey or password
  sign-in; nginx asks an instance's ``/api/authz/auth-request`` (``auth_request``) and,
  allowed, answers the page itself. The access rules require a sign-in for the host.

Afterwards the audit trail is reconciled with the driver's own count: the sign-in success and
failure rows written during the run must equal the sign-ins the driver saw succeed and fail,
none missing, none doubled (a gate check of an existing session writes none).

Usage: python bench/scale.py --database-url postgresql://postgres@127.0.0.1/postgres
                             --redis-url redis://127.0.0.1:6379/15 [--duration 20]
                             [--clients 4] [--users 200]

The database named ``keystile_scale`` (``--database-name``) on that server is dropped and
created afresh; the limits are raised out of the way, so Redis needs no cleaning.
"""

from __future__ import annotations

import argparse
import http.client
import re
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from bench._harness import Run, process_tree_cpu_seconds
from tests.support import cluster as clusters
from tests.support.pki import Pki
from tests.support.soft_authenticator import SoftAuthenticator, SoftCredential, unb64url
from tests.support.web_client import ORIGIN, WebClient

SESSION_COOKIE = "__Host-keystile-session"
PASSWORD = "a long benchmark password, not a real one"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
KINDS = (
    "passkey sign-in",
    "password sign-in",
    "certificate sign-in",
    "session check",
    "gate check",
)
SIGN_INS = KINDS[:3]
SUCCESS_TAGS = ("auth:passkey:success", "auth:password:success", "auth:certificate:success")
FAILURE_TAGS = (
    "auth:passkey:failure",
    "auth:password:failure",
    "auth:certificate:failure",
    "auth:throttled",
)
UNLIMITED = "1000000/minute"
RULES = 'default = "deny"\n[[rule]]\nhosts = ["localhost"]\nrequire = { strength = "password" }\n'


def seed(
    url: str, users: int, passwords: int, instance: Path, certificate: Path
) -> list[SoftCredential]:
    """``users`` accounts with a passkey each (bench/passkey_login.py's seed), the first
    ``passwords`` of them with a password too, and ``certificate`` pinned for the first."""
    import os

    from bench.passkey_login import seed as seed_passkeys

    creds = seed_passkeys(url.replace("postgresql://", "postgresql+psycopg://", 1), users)
    os.environ.update(
        {
            "KEYSTILE_ENV": "testing",
            "KEYSTILE_SECRET_KEY": "s" * 40,
            "KEYSTILE_DATABASE_URL": url,
            "KEYSTILE_INSTANCE_PATH": str(instance),
        }
    )
    from app import create_app
    from app.db import get_db
    from app.models import User, utcnow
    from app.services import credentials
    from app.services.audit import SYSTEM

    app = create_app()
    with app.app_context():
        db = get_db()
        for i in range(passwords):
            user = db.scalars(sa.select(User).where(User.username == f"bench{i}")).one()
            credentials.set_password(
                db,
                app.extensions["keystile.passwords"],
                user=user,
                new_password=PASSWORD,
                client=SYSTEM,
                now=utcnow(),
            )
        db.commit()
    pinned = app.test_cli_runner().invoke(args=["cert", "pin", "bench0", str(certificate)])
    if pinned.exit_code != 0:
        raise SystemExit(f"keystile cert pin: {pinned.output}")
    return creds


class Driver:
    """One client thread's browser and its counts of sign-ins seen."""

    def __init__(
        self,
        base: str,
        creds: list[SoftCredential],
        names: list[str],
        passwords: int,
        tls: tuple[int, ssl.SSLContext],
    ) -> None:
        self.base, self.creds, self.names, self.passwords = base, creds, names, passwords
        self.tls_port, self.tls = tls
        self.authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
        self.page = WebClient(base)
        self.token = ""
        self.signed_in: WebClient | None = None
        self.succeeded = 0
        self.failed = 0

    def _fresh(self) -> WebClient:
        """A browser tab showing the sign-in page (its cookies and token)."""
        if not self.token:
            found = CSRF.search(self.page.get("/login").text)
            self.token = found.group(1) if found else ""
        client = WebClient(self.base)
        client.cookies = dict(self.page.cookies)
        return client

    def passkey(self, i: int) -> bool:
        client = self._fresh()
        headers = {"X-CSRFToken": self.token}
        options = client.post("/webauthn/login/options", json={}, headers=headers)
        if options.status_code != 200:
            return False
        n = i % len(self.creds)
        assertion = self.authenticator.authenticate(
            self.creds[n], challenge=unb64url(options.json()["challenge"])
        )
        return self._counted(
            client,
            client.post("/webauthn/login/verify", json=assertion, headers=headers).status_code
            == 200,
        )

    def password(self, i: int) -> bool:
        client = self._fresh()
        resp = client.post(
            "/login",
            data={
                "username": self.names[i % self.passwords],
                "password": PASSWORD,
                "csrf_token": self.token,
            },
        )
        return self._counted(client, resp.status_code == 303)

    def _counted(self, client: WebClient, ok: bool) -> bool:
        if ok:
            self.succeeded += 1
            if self.signed_in is not None:
                self.signed_in.close()
            self.signed_in = client
        else:
            self.failed += 1
            client.close()
        return ok

    def certificate(self, _i: int) -> bool:
        """A new connection (a full handshake with the pinned certificate) that signs in."""
        conn = http.client.HTTPSConnection("localhost", self.tls_port, context=self.tls, timeout=30)
        try:
            conn.request("GET", "/login")
            resp = conn.getresponse()
            resp.read()
            cookies = [
                c.split(";", 1)[0]
                for c in resp.headers.get_all("Set-Cookie") or []
                if c.startswith(SESSION_COOKIE + "=")
            ]
            if resp.status != 303 or not cookies:
                self.failed += 1
                return False
            self.succeeded += 1
            conn.request("GET", "/api/session", headers={"Cookie": cookies[0]})
            resp = conn.getresponse()
            return resp.status == 200 and b'"method":"certificate"' in resp.read()
        finally:
            conn.close()

    def session(self, _i: int) -> bool:
        client = self.signed_in
        return client is not None and client.get("/api/session").status_code == 200

    def gate(self, _i: int) -> bool:
        client = self.signed_in
        if client is None:
            return False
        resp = client.get("/gate/page")
        return resp.status_code == 200 and resp.text == "ok\n"


def drive(
    drivers: list[Driver], duration: float, pids: list[int]
) -> tuple[dict[str, Run], float, float]:
    """Every driver's plan in its own thread for ``duration`` seconds; the runs by kind, the
    CPU seconds the server processes used meanwhile, and those of this driver process."""
    runs = {kind: Run(kind, duration) for kind in KINDS}
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def worker(d: Driver, start: int) -> None:
        plan: list[tuple[str, Callable[[int], bool]]] = [
            ("passkey sign-in", d.passkey),
            ("session check", d.session),
            ("gate check", d.gate),
            ("password sign-in", d.password),
            ("gate check", d.gate),
            ("certificate sign-in", d.certificate),
        ]
        i = start
        while time.monotonic() < stop:
            kind, op = plan[i % len(plan)]
            t0 = time.perf_counter()
            try:
                ok = op(i // len(plan))
            except Exception as exc:  # noqa: BLE001 - counted as a failure
                print(f"  {kind}: {exc!r}", file=sys.stderr)
                ok = False
            dt = time.perf_counter() - t0
            with lock:
                if ok:
                    runs[kind].latencies.append(dt)
                else:
                    runs[kind].failures += 1
            i += 1

    cpu0 = sum(process_tree_cpu_seconds(p) for p in pids)
    own0 = time.process_time()
    threads = [threading.Thread(target=worker, args=(d, 0)) for d in drivers]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    cpu = sum(process_tree_cpu_seconds(p) for p in pids) - cpu0
    own = time.process_time() - own0
    for r in runs.values():
        r.seconds = elapsed
    return runs, cpu, own


def audit_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tag, count(*) FROM audit_events GROUP BY tag"))
        counts = {tag: int(n) for tag, n in rows}
    engine.dispose()
    return counts


def measure(
    instances: int,
    args: argparse.Namespace,
    url: str,
    creds: list[SoftCredential],
    workdir: Path,
    pki: Pki,
) -> dict[str, Run]:
    env = {
        "KEYSTILE_LOGIN_LIMIT_PER_ADDRESS": UNLIMITED,
        "KEYSTILE_LOGIN_LIMIT_PER_ACCOUNT": UNLIMITED,
        "KEYSTILE_CHALLENGE_LIMIT_PER_ADDRESS": UNLIMITED,
        "KEYSTILE_ARGON2_MEMORY_KIB": "19456",
        "KEYSTILE_ARGON2_TIME_COST": "2",
        "KEYSTILE_CERT_LOGIN": "auto",
        "KEYSTILE_ACCESS_RULES": str(workdir.parent / "rules.toml"),
    }
    names = [f"bench{i}" for i in range(args.passwords)]
    tls = ssl.create_default_context(cafile=str(pki.ca.cert_path))
    tls.load_cert_chain(pki.self_signed.cert_path, pki.self_signed.key_path)
    server_tls = (workdir.parent / "tls" / "server.crt", workdir.parent / "tls" / "server.key")
    with clusters.running(
        workdir,
        database_url=url,
        redis_url=args.redis_url,
        count=instances,
        extra_env=env,
        tls=server_tls,
    ) as cluster:
        assert cluster.nginx is not None
        pids = [cluster.nginx.pid, *(i.server.pid for i in cluster.instances if i.server)]
        share = len(creds) // args.clients
        drivers = [
            Driver(
                cluster.url,
                creds[n * share : (n + 1) * share],
                names,
                args.passwords,
                (cluster.tls_port, tls),
            )
            for n in range(args.clients)
        ]
        before = audit_counts(url)
        runs, cpu, own = drive(drivers, args.duration, pids)
        after = audit_counts(url)
    seen_ok = sum(d.succeeded for d in drivers)
    seen_failed = sum(d.failed for d in drivers)
    rows_ok = sum(after.get(t, 0) - before.get(t, 0) for t in SUCCESS_TAGS)
    rows_failed = sum(after.get(t, 0) - before.get(t, 0) for t in FAILURE_TAGS)
    total = sum(len(r.latencies) for r in runs.values()) / args.duration
    print(
        f"\n{instances} instance(s), 1 gthread worker each (4 threads), {args.clients} "
        f"client threads, {args.duration:.0f} s: {total:.1f} requests-answered/s in all"
    )
    for r in runs.values():
        print("  " + r.line().split("  server CPU")[0])
    sign_ins = sum(len(runs[k].latencies) for k in SIGN_INS)
    print(
        f"  nginx + gunicorn CPU: {cpu / args.duration:.2f} cores busy on average, "
        f"{cpu * 1000 / max(1, sign_ins):.1f} ms per sign-in (session and gate checks "
        f"included); the driver (clients, this process): {own / args.duration:.2f} cores"
    )
    verdict = "OK" if (rows_ok, rows_failed) == (seen_ok, seen_failed) else "MISMATCH"
    print(
        f"  audit: {rows_ok} success rows for {seen_ok} sign-ins seen to succeed, "
        f"{rows_failed} failure rows for {seen_failed} seen to fail: {verdict}"
    )
    return runs


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--database-url",
        required=True,
        help="a PostgreSQL server (any database: keystile_scale is made there)",
    )
    ap.add_argument(
        "--database-name", default="keystile_scale", help="the database made afresh on that server"
    )
    ap.add_argument("--redis-url", required=True)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--passwords", type=int, default=20, help="users with a password too")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "rules.toml").write_text(RULES)
        pki, _, _ = clusters.tls_files(work / "tls")
        url = clusters.fresh_database(args.database_url, args.database_name)
        creds = seed(url, args.users, args.passwords, work / "instance", pki.self_signed.cert_path)
        one = measure(1, args, url, creds, work / "one", pki)
        two = measure(2, args, url, creds, work / "two", pki)
    print("\nfrom one instance to two:")
    for kind in KINDS:
        print(f"  {kind:<20} {two[kind].rate / max(one[kind].rate, 1e-9):.2f}x")
    failures = sum(r.failures for r in (*one.values(), *two.values()))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

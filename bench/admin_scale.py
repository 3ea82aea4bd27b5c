"""The admin pages at scale: 100,000 users, 300,000 credentials, 1,000,000 audit events.

Seeds a fresh database through the real migrations (bulk inserts: COPY on PostgreSQL,
executemany with ``synchronous=OFF`` on SQLite), signs an admin in through the real form,
then times each admin page through the Flask test client (p50/p95 over ``--runs``) and the
full audit export: through the web (rows/s) and as ``keystile audit export`` in a separate
process whose peak resident memory is read from ``/proc/<pid>/status`` (VmHWM).

Targets: every page under 300 ms at p95; the export streams every row with a peak under
100 MB.

Usage: python bench/admin_scale.py [--database-url postgresql://postgres@127.0.0.1:5432/kb]
       [--users 100000] [--credentials 300000] [--events 1000000] [--runs 20] [--reuse]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._admin_seed import seed

PASSWORD = "benchmark passphrase for the admin"
ADMIN = "benchadmin"
FILTERS = (
    "",
    "password-only",
    "certificate-no-hardware-key",
    "depends-on-certificate",
    "certificate-expiring",
    "clone-flagged",
    "no-sign-in-90-days",
    "hardware-key-policy",
)
TARGET_MS = 300
TARGET_MB = 100


def prepare_database(url: str, reuse: bool) -> str:
    """Create (or recreate) the PostgreSQL database named in ``url``; SQLite needs nothing."""
    if not url.startswith("postgresql"):
        return url
    import sqlalchemy as sa

    base, name = url.rsplit("/", 1)
    admin = sa.create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1) + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and not reuse:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or not reuse:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def seeded(url: str) -> bool:
    import sqlalchemy as sa

    from app.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.scalar(sa.text("SELECT count(*) FROM audit_events")))
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def build(url: str, args: argparse.Namespace) -> None:
    from app.cli.dbcmd import upgrade
    from app.db import make_engine

    t0 = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    timings = seed(
        engine,
        n_users=args.users,
        n_creds=args.credentials,
        n_events=args.events,
        n_sessions=args.sessions,
    )
    engine.dispose()
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    print(f"seeded in {time.perf_counter() - t0:.1f} s ({parts})")


def app_for(url: str, instance: Path) -> Any:
    from app import create_app

    return create_app(
        {
            "env": "testing",
            "database_url": url,
            "origin": "https://localhost",
            "secret_key": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "instance_path": str(instance),
            "recent_auth_minutes": 240,
            "require_hardware_key_for": "admin",
            "cert_sunset": "2027-01-31",
        }
    )


def signed_in_admin(app: Any) -> Any:
    from app.db import get_db
    from app.models import Role, utcnow
    from app.services import accounts, credentials
    from app.services.audit import SYSTEM
    from app.web.context import passwords

    with app.app_context():
        db = get_db()
        if accounts.find_user(db, ADMIN) is None:
            admin = accounts.create_user(
                db, username=ADMIN, client=SYSTEM, now=utcnow(), role=Role.ADMIN
            )
            db.commit()
            credentials.set_password(
                db, passwords(), user=admin, new_password=PASSWORD, client=SYSTEM, now=utcnow()
            )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    resp = client.post(
        "/login", data={"username": ADMIN, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert resp.status_code == 303, resp.status_code
    return client


def p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def time_page(label: str, urls: Callable[[int], str], client: Any, runs: int) -> bool:
    for i in range(2):  # warm caches the way a real server's first requests would
        client.get(urls(i))
    samples = []
    for i in range(runs):
        url = urls(i)
        t0 = time.perf_counter()
        resp = client.get(url)
        body = resp.get_data()
        samples.append(time.perf_counter() - t0)
        assert resp.status_code == 200 and body, (url, resp.status_code)
    p95 = p(samples, 95)
    ok = p95 < TARGET_MS
    print(
        f"  {label:<46} p50 {p(samples, 50):7.1f} ms  p95 {p95:7.1f} ms  {'ok' if ok else 'OVER'}"
    )
    return ok


def web_export(client: Any, fmt: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    resp = client.get(f"/admin/audit/export?format={fmt}", buffered=False)
    assert resp.status_code == 200, resp.status_code
    lines = 0
    for chunk in resp.response:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    resp.close()
    rows = lines - 1 if fmt == "csv" else lines
    return rows, time.perf_counter() - t0


def cli_export(url: str, fmt: str, instance: Path) -> tuple[int, float, float]:
    """Run ``keystile audit export`` in its own process; rows, seconds, peak RSS in MB."""
    env = {
        **os.environ,
        "KEYSTILE_DATABASE_URL": url,
        "KEYSTILE_ENV": "development",
        "KEYSTILE_INSTANCE_PATH": str(instance),
    }
    exe = Path(sys.executable).parent / "keystile"
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([str(exe), "audit", "export", "--format", fmt], stdout=out, env=env)
        peak_kb = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                peak_kb = max(peak_kb, int(match.group(1)) if match else 0)
            except OSError:
                break
            time.sleep(0.02)
        proc.wait()
        seconds = time.perf_counter() - t0
        assert proc.returncode == 0, proc.returncode
        out.seek(0)
        lines = sum(block.count(b"\n") for block in iter(lambda: out.read(1 << 20), b""))
    return (lines - 1 if fmt == "csv" else lines), seconds, peak_kb / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--database-url", default="")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--credentials", type=int, default=300_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--sessions", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    ap.add_argument("--workdir", default="", help="where the SQLite file and instance live")
    ap.add_argument("--no-export", action="store_true", help="time the pages only")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="keystile-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = prepare_database(args.database_url or f"sqlite:///{work / 'admin.sqlite3'}", args.reuse)
    print(f"database: {url.split('@')[-1]}")
    if not (args.reuse and seeded(url)):
        build(url, args)
    app = app_for(url, work / "instance")
    client = signed_in_admin(app)
    rng = random.Random(7)
    user_ids = [rng.randint(1, args.users) for _ in range(args.runs + 2)]
    print(f"pages ({args.runs} runs each, Flask test client, target p95 < {TARGET_MS} ms):")
    ok = time_page("dashboard (30 days)", lambda i: "/admin/?days=30", client, args.runs)
    ok &= time_page("dashboard (90 days)", lambda i: "/admin/?days=90", client, args.runs)
    for flt in FILTERS:
        ok &= time_page(
            f"users, filter {flt or 'none'}, search 'user0'",
            lambda i, f=flt: f"/admin/users?q=user0{i % 10}&filter={f}",
            client,
            args.runs,
        )
    ok &= time_page(
        "users, page 1,000 (keyset)",
        lambda i: f"/admin/users?after=user{50_000 + i:06d}",
        client,
        args.runs,
    )
    ok &= time_page("a user's page", lambda i: f"/admin/users/{user_ids[i]}", client, args.runs)
    ok &= time_page("audit log, newest", lambda i: "/admin/audit", client, args.runs)
    ok &= time_page(
        "audit log, one user",
        lambda i: f"/admin/audit?user=user{user_ids[i]:06d}",
        client,
        args.runs,
    )
    ok &= time_page(
        "audit log, failures of a method in a month",
        lambda i: f"/admin/audit?method=passkey&outcome=failure&since={time.strftime('%Y')}-01-01",
        client,
        args.runs,
    )
    if args.no_export:
        return 0 if ok else 1
    print("full audit export:")
    for fmt in ("csv", "jsonl"):
        rows, secs = web_export(client, fmt)
        print(f"  web {fmt:<5} {rows:>9,} rows in {secs:6.1f} s = {rows / secs:9,.0f} rows/s")
        rows, secs, peak = cli_export(url, fmt, work / "instance")
        within = peak < TARGET_MB
        ok &= within
        print(
            f"  cli {fmt:<5} {rows:>9,} rows in {secs:6.1f} s = {rows / secs:9,.0f} rows/s, "
            f"peak RSS {peak:5.1f} MB {'ok' if within else 'OVER'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Seed a Keystile database with a realistic admin workload, fast.

Rows are generated in batches and written with the driver's bulk path: ``COPY`` on
PostgreSQL, ``executemany`` inside one transaction with ``synchronous=OFF`` on SQLite. The
mix: most users have a password, half a certificate, many a synced passkey, some a
hardware key; a tenth of the credential history is revoked; a year of audit events, most
of them sign-ins, some with hostile user agents.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

BATCH = 20_000
NOW = datetime.now(UTC).replace(tzinfo=None)
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) Chrome/131",
    "Mozilla/5.0 (Macintosh) Safari/18",
    "=cmd|' /C calc'!A0",
    "<script>alert(1)</script>",
    "curl/8.5",
)
SUCCESS = (
    ("auth:password:success", "password", None, 40),
    ("auth:passkey:success", "passkey", None, 20),
    ("auth:certificate:success", "certificate", None, 15),
    ("auth:password:failure", "password", "wrong_password", 6),
    ("auth:password:failure", "password", "unknown_user", 2),
    ("auth:passkey:failure", "passkey", "cancelled", 2),
    ("auth:passkey:failure", "passkey", "counter_regression", 1),
    ("auth:certificate:failure", "certificate", "expired", 1),
    ("auth:certificate:failure", "certificate", "unknown_certificate", 1),
    ("auth:throttled", "password", "throttled", 1),
    ("auth:logout", "password", None, 6),
    ("account:credential:added", "passkey", None, 3),
    ("account:credential:removed", "certificate", None, 1),
    ("admin:action", None, None, 1),
)
TAGS = [row for row in SUCCESS for _ in range(row[3])]


def _ts(dt: datetime, sqlite: bool) -> Any:
    """A naive UTC datetime as SQLAlchemy's SQLite DateTime stores it (or as is)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else dt


def users(n: int, rng: random.Random, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        created = NOW - timedelta(days=rng.uniform(100, 730))
        r = rng.random()
        last = (
            NOW - timedelta(days=rng.uniform(0, 89))
            if r < 0.7
            else NOW - timedelta(days=rng.uniform(91, 365))
            if r < 0.9
            else None
        )
        name = f"user{i:06d}"
        yield (
            i,
            name,
            name,
            f"User {i}",
            f"{name}@example.org",
            False,
            "admin" if i % 100 == 0 else "user",
            "disabled" if i % 50 == 7 else "active",
            hashlib.sha512(b"handle%d" % i).digest(),
            _ts(created, sqlite),
            _ts(created, sqlite),
            _ts(last, sqlite) if last else None,
        )


USER_COLUMNS = (
    "id",
    "username",
    "username_normalized",
    "display_name",
    "email",
    "email_verified",
    "role",
    "status",
    "user_handle",
    "created_at",
    "updated_at",
    "last_sign_in_at",
)
CRED_COLUMNS = (
    "id",
    "user_id",
    "kind",
    "label",
    "lookup_key",
    "secret_hash",
    "public_key",
    "sign_count",
    "aaguid",
    "model_name",
    "backup_eligible",
    "backup_state",
    "attestation_format",
    "attestation_trust",
    "clone_flagged_at",
    "subject",
    "issuer",
    "serial",
    "not_before",
    "not_after",
    "source",
    "proven",
    "details",
    "created_at",
    "revoked_at",
    "revoked_reason",
)


def _plan(n_users: int, n_creds: int, rng: random.Random) -> list[int]:
    """How many credentials each user gets, summing to exactly ``n_creds``."""
    counts = [rng.choice((1, 2, 3, 3, 4, 5)) for _ in range(n_users)]
    diff = n_creds - sum(counts)
    i = 0
    while diff:
        j = i % n_users
        if diff > 0:
            counts[j] += 1
            diff -= 1
        elif counts[j] > 1:
            counts[j] -= 1
            diff += 1
        i += 1
    return counts


def credentials(
    n_users: int, n_creds: int, rng: random.Random, sqlite: bool
) -> Iterator[tuple[Any, ...]]:
    cid = 0
    for uid, count in enumerate(_plan(n_users, n_creds, rng), start=1):
        has_password = False
        for k in range(count):
            cid += 1
            created = NOW - timedelta(days=rng.uniform(0, 400))
            revoked = k > 0 and rng.random() < 0.1
            revoked_at = created + (NOW - created) * rng.random() if revoked else None
            r = rng.random()
            kind = "password" if (k == 0 and r < 0.85) else "certificate" if r < 0.45 else "passkey"
            if kind == "password" and has_password:
                kind = "certificate"
            row: dict[str, Any] = dict.fromkeys(CRED_COLUMNS)
            row.update(
                id=cid,
                user_id=uid,
                kind=kind,
                label="",
                proven=True,
                details="{}",
                created_at=_ts(created, sqlite),
                revoked_at=_ts(revoked_at, sqlite) if revoked_at else None,
                revoked_reason="removed by user" if revoked else None,
            )
            if kind == "password":
                has_password = not revoked
                row.update(secret_hash="$argon2id$v=19$m=19456,t=2,p=1$bench$bench")
            elif kind == "certificate":
                not_after = created + timedelta(days=365)
                row.update(
                    lookup_key=hashlib.sha256(b"cert%d" % cid).hexdigest(),
                    public_key=b"spki",
                    subject=f"CN=user{uid:06d}",
                    issuer="CN=Example Issuing CA",
                    serial=f"{cid:x}",
                    not_before=_ts(created, sqlite),
                    not_after=_ts(not_after, sqlite),
                    source="handshake",
                )
            else:
                synced = rng.random() < 0.6
                attested = not synced and rng.random() < 0.6
                flagged = rng.random() < 0.0005
                row.update(
                    lookup_key=base64.urlsafe_b64encode(hashlib.sha256(b"pk%d" % cid).digest())
                    .decode()
                    .rstrip("="),
                    public_key=b"cose",
                    sign_count=0 if synced else rng.randint(1, 900),
                    aaguid="cb69481e-8ff7-4039-93ec-0a2729a154a8",
                    model_name="Google Password Manager" if synced else "YubiKey 5",
                    backup_eligible=synced,
                    backup_state=synced,
                    attestation_format="packed" if attested else "none",
                    attestation_trust="verified" if attested else "none",
                    clone_flagged_at=_ts(NOW, sqlite) if flagged else None,
                )
            yield tuple(row[c] for c in CRED_COLUMNS)


EVENT_COLUMNS = (
    "id",
    "created_at",
    "tag",
    "user_id",
    "credential_id",
    "actor_id",
    "method",
    "outcome",
    "reason",
    "address",
    "user_agent",
    "request_id",
    "details",
)


def events(n: int, n_users: int, rng: random.Random, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    start = NOW - timedelta(days=365)
    step = timedelta(days=365) / n
    for i in range(1, n + 1):
        tag, method, reason, _ = rng.choice(TAGS)
        uid = rng.randint(1, n_users)
        actor = rng.randint(1, n_users // 100) * 100 if tag == "admin:action" else None
        outcome = "failure" if ("failure" in tag or tag == "auth:throttled") else "success"
        details = json.dumps({"label": "YubiKey 5"} if tag.startswith("account:") else {})
        yield (
            i,
            _ts(start + step * i, sqlite),
            tag,
            uid,
            None,
            actor,
            method,
            outcome,
            reason,
            f"198.51.100.{i % 250}",
            AGENTS[i % len(AGENTS)],
            f"{i:016x}",
            details,
        )


SESSION_COLUMNS = (
    "id",
    "token_hash",
    "user_id",
    "credential_id",
    "method",
    "created_at",
    "last_seen_at",
    "expires_at",
    "address",
    "user_agent",
)


def sessions(n: int, n_users: int, rng: random.Random, sqlite: bool) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        created = NOW - timedelta(hours=rng.uniform(0, 10))
        yield (
            i,
            hashlib.sha256(b"session%d" % i).hexdigest(),
            rng.randint(1, n_users),
            None,
            "password",
            _ts(created, sqlite),
            _ts(created, sqlite),
            _ts(created + timedelta(hours=12), sqlite),
            "198.51.100.7",
            AGENTS[0],
        )


def _batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def bulk_insert(
    engine: Engine, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> int:
    """Write ``rows`` with the fastest path the driver has; returns how many."""
    total = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    total += 1
        else:
            cur.execute("PRAGMA synchronous=OFF")  # seeding only: durability is not needed
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - fixed names
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            for batch in _batches(rows, BATCH):
                cur.executemany(sql, batch)
                total += len(batch)
        raw.commit()
    finally:
        raw.close()
    return total


def seed(
    engine: Engine,
    *,
    n_users: int,
    n_creds: int,
    n_events: int,
    n_sessions: int,
    seed_value: int = 5,
) -> dict[str, float]:
    """Fill an empty, migrated database; returns seconds per table."""
    rng = random.Random(seed_value)
    sqlite = engine.dialect.name == "sqlite"
    timings: dict[str, float] = {}
    plan = (
        ("users", USER_COLUMNS, users(n_users, rng, sqlite)),
        ("credentials", CRED_COLUMNS, credentials(n_users, n_creds, rng, sqlite)),
        ("audit_events", EVENT_COLUMNS, events(n_events, n_users, rng, sqlite)),
        ("sessions", SESSION_COLUMNS, sessions(n_sessions, n_users, rng, sqlite)),
    )
    for table, columns, rows in plan:
        t0 = time.perf_counter()
        bulk_insert(engine, table, columns, rows)
        timings[table] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with engine.begin() as conn:
        if not sqlite:
            for table in ("users", "credentials", "audit_events", "sessions"):
                stmt = (
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
                conn.execute(text(stmt))
        if sqlite:
            conn.execute(text("ANALYZE"))
    if not sqlite:
        # What autovacuum does soon after a bulk load: statistics and the visibility map
        # (without it PostgreSQL cannot answer from an index alone).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    timings["analyze"] = time.perf_counter() - t0
    return timings

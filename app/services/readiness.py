"""Readiness: whether this instance can serve sign-ins now (``GET /readyz``).

Liveness (``/healthz``) only says the process answers; readiness says that what every
sign-in needs is there: the database answers a trivial query, and its schema is at the
newest Alembic revision this code ships (an instance started before ``keystile db upgrade``
ran, or after a downgrade, would fail on its first write). Redis, when the throttle counts
are kept there, is pinged too; without it the instance still serves, counting in its own
memory, and says ``degraded``. Each check is bounded in time and reports a word, never an
error's text: the answer is seen by load balancers and possibly by anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

OK = "ok"
UNREACHABLE = "unreachable"
#: the schema is behind the revision this code expects, or was never migrated: migrate
NOT_AT_HEAD = "not at head"
#: the schema is at a revision newer than this code knows: a rolling upgrade migrated the
#: database before replacing this instance (migrations keep the previous release working)
AHEAD = "ahead"
UNKNOWN = "unknown"
NOT_CONFIGURED = "not configured"


class Pingable(Protocol):
    """A Redis client (``redis.Redis``): ``ping()`` raises when the server does not answer."""

    def ping(self) -> object: ...


#: the checks an instance cannot serve sign-ins without; Redis is not one of them: without
#: it each process throttles in its own memory (docs/deployment.md, "When Redis is down")
REQUIRED = ("database", "migrations")


@dataclass(frozen=True)
class Readiness:
    """The result of every check, by name (``database``, ``migrations``, ``redis``)."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(self.checks[name] in {OK, AHEAD} for name in REQUIRED)

    @property
    def status(self) -> str:
        """``ready``; ``degraded`` (ready, but Redis does not answer: throttle counts are
        kept per process until it does); ``unavailable``."""
        if not self.ready:
            return "unavailable"
        return "degraded" if self.checks.get("redis") == UNREACHABLE else "ready"


def check(
    engine: Engine, *, heads: Collection[str], known: Collection[str], redis: Pingable | None
) -> Readiness:
    """Run every check (each on its own: a dead database still reports Redis).

    Args:
        engine: the application's engine; one pooled connection is borrowed.
        heads: the Alembic head revision(s) of the migrations this code ships.
        known: every revision this code ships.
        redis: a client with short socket timeouts, or None when Redis is not configured.
    """
    checks = _database(engine, set(heads), set(known))
    checks["redis"] = NOT_CONFIGURED if redis is None else _redis(redis)
    return Readiness(checks)


def _database(engine: Engine, heads: set[str], known: set[str]) -> dict[str, str]:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as exc:
        log.warning("readiness: the database does not answer (%s)", type(exc).__name__)
        return {"database": UNREACHABLE, "migrations": UNKNOWN}
    if current and not current <= known:
        return {"database": OK, "migrations": AHEAD}
    if current != heads:
        log.warning(
            "readiness: schema at %s, this code expects %s",
            sorted(current) or "nothing",
            sorted(heads),
        )
        return {"database": OK, "migrations": NOT_AT_HEAD}
    return {"database": OK, "migrations": OK}


def _redis(client: Pingable) -> str:
    from redis.exceptions import RedisError

    try:
        client.ping()
    except (RedisError, OSError) as exc:
        log.warning("readiness: Redis does not answer (%s)", type(exc).__name__)
        return UNREACHABLE
    return OK

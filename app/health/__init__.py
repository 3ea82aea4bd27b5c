"""``/healthz`` (liveness) and ``/readyz`` (readiness), for load balancers and orchestrators.

``/healthz`` touches nothing: it answers 200 while the process can answer at all, so a
supervisor restarts only an instance that is really stuck, not every instance at once when
the shared database is down. ``/readyz`` answers 200 only when this instance can serve
sign-ins (:mod:`app.services.readiness`), else 503, so a load balancer sends traffic
elsewhere. See docs/deployment.md.
"""

from __future__ import annotations

from functools import cache

from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response as BaseResponse

from app.db import engine_of
from app.services import readiness
from app.web.context import settings

bp = Blueprint("health", __name__)

#: seconds a Redis ping may take before Redis counts as unreachable
REDIS_TIMEOUT = 0.5
_REDIS = "keystile.readiness_redis"


@bp.get("/healthz")
def healthz() -> tuple[BaseResponse, int]:
    return jsonify(status="ok"), 200


@bp.get("/readyz")
def readyz() -> tuple[BaseResponse, int]:
    heads, known = migrations()
    result = readiness.check(
        engine_of(current_app), heads=heads, known=known, redis=_redis_client()
    )
    return (jsonify(status=result.status, checks=result.checks), 200 if result.ready else 503)


@cache
def migrations() -> tuple[frozenset[str], frozenset[str]]:
    """The head revision(s) of the migrations shipped with this code, and every revision
    it ships (read once)."""
    from alembic.script import ScriptDirectory

    from app.cli.dbcmd import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(""))
    return (frozenset(scripts.get_heads()), frozenset(r.revision for r in scripts.walk_revisions()))


def _redis_client() -> readiness.Pingable | None:
    """One client per application (its pool is reused), with short timeouts."""
    url = settings().redis_url
    if not url:
        return None
    client: readiness.Pingable | None = current_app.extensions.get(_REDIS)
    if client is None:
        from redis import Redis

        client = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        current_app.extensions[_REDIS] = client
    return client

"""PostgreSQL stopped while Keystile is in use, and started again (issue 14): gunicorn on a
PostgreSQL cluster of the test's own, which the test stops under a stream of sign-ins.

While it is down, every request that needs it answers 503 with ``Retry-After`` (JSON on the
API paths), never a 500 and never an allow; nothing half-done is left (every session has its
audit row); when it is back, the same gunicorn serves again without a restart.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import FAST_HASH, PASSWORD, require
from tests.e2e.proxies import servers
from tests.support import pg_cluster
from tests.support.cluster import keystile_cli
from tests.support.load import SignInLoad, wait_until
from tests.support.web_client import WebClient

#: how long the service may take to come back once PostgreSQL accepts connections again
RECOVERY_SECONDS = 20


@pytest.fixture
def database() -> Iterator[pg_cluster.PrivateCluster]:
    require(pg_cluster.bin_dir() is not None, "PostgreSQL's initdb is not installed")
    with pg_cluster.private_cluster() as cluster:
        yield cluster


def test_postgresql_stopped_under_load_then_back(
    database: pg_cluster.PrivateCluster, tmp_path: Path
) -> None:
    url = database.create_database("keystile")
    env = {
        "KEYSTILE_ENV": "production",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": url,
        "KEYSTILE_ORIGIN": "https://localhost",
        "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1",
        "KEYSTILE_INSTANCE_PATH": str(tmp_path / "instance"),
        **{f"KEYSTILE_{k.upper()}": str(v) for k, v in FAST_HASH.items()},
    }
    for args, stdin in (
        (["db", "upgrade"], None),
        (["user", "create", "alice", "--password-stdin"], PASSWORD + "\n"),
    ):
        done = subprocess.run(
            [keystile_cli(), *args],
            input=stdin,
            text=True,
            capture_output=True,
            env={**os.environ, **env},
            check=False,
        )
        assert done.returncode == 0, done.stderr
    port = servers.free_ports(1)[0]
    base = f"http://127.0.0.1:{port}"
    with servers.keystile(env, tmp_path, port=port) as gunicorn:
        gunicorn.wait()
        browser = WebClient(base)
        assert browser.login("alice", PASSWORD).status_code == 303
        token = browser.csrf("/account")
        assert browser.get("/readyz").status_code == 200

        with SignInLoad(base, "alice") as load:
            wait_until(lambda: load.signed_in >= 3, 30)
            database.stop()
            during = browser.get("/api/session")  # the sign-in edge
            assert during.status_code == 503, during.text
            assert during.json()["error"] == "unavailable"
            assert int(during.headers["Retry-After"]) > 0
            page = browser.get("/account")
            assert page.status_code == 503 and "Traceback" not in page.text
            assert browser.post("/logout", data={"csrf_token": token}).status_code == 503
            assert browser.get("/readyz").status_code == 503
            assert browser.get("/healthz").status_code == 200
            wait_until(lambda: load.statuses[503] >= 5, 30)
            database.start()
            wait_until(lambda: browser.get("/readyz").status_code == 200, RECOVERY_SECONDS)
            before = load.signed_in
            wait_until(lambda: load.signed_in >= before + 3, RECOVERY_SECONDS)

        print(f"sign-in load: {dict(load.statuses)}, {load.signed_in} signed in")
        assert load.bad == []
        assert set(load.statuses) <= {200, 303, 503}, load.statuses
        assert browser.signed_in()  # the session opened before the outage survived it
        assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
        browser.close()

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        sessions = conn.scalar(sa.text("SELECT count(*) FROM sessions"))
        opened = conn.scalar(
            sa.text("SELECT count(*) FROM audit_events WHERE tag = 'auth:password:success'")
        )
    engine.dispose()
    # one session row per recorded sign-in, and every sign-in the client saw was recorded
    # (a sign-in committed as the server went away may have lost only its answer)
    assert sessions == opened
    assert load.signed_in + 1 <= opened <= load.signed_in + 1 + 1

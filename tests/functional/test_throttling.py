"""Throttling per account and per address (threat model D.18), on memory and on Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from tests.conftest import PASSWORD, AuthActions, make_app, shared_redis


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {
        "login_limit_per_account": "3/minute",
        "login_limit_per_address": "5/minute",
        "challenge_limit_per_address": "4/minute",
    }


def test_account_limit_gives_429_with_retry_after_and_audit(
    client: FlaskClient, auth: AuthActions, alice: User, db: Session
) -> None:
    for _ in range(3):
        assert auth.login(password="wrong wrong wrong").status_code == 401
    resp = auth.login(password="wrong wrong wrong")
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    # The page says how long: the window of 3/minute ends within the minute.
    assert "Too many attempts. Please wait at least about a minute and try again." in resp.get_data(
        as_text=True
    )
    # Even the right password waits: the limit is checked before the password is.
    assert auth.login().status_code == 429
    row = db.scalar(select(AuditEvent).where(AuditEvent.tag == "auth:throttled"))
    assert row is not None and row.outcome == "failure"


def test_successes_do_not_count(auth: AuthActions, alice: User) -> None:
    for _ in range(6):
        assert auth.login().status_code == 303


def test_other_accounts_unaffected_by_one_accounts_limit(
    auth: AuthActions, alice: User, db: Session, app: Any
) -> None:
    from tests.conftest import make_user

    make_user(db, app, "bob")
    for _ in range(3):
        auth.login(password="wrong wrong wrong")
    assert auth.login(username="bob").status_code == 303


def test_address_limit_spans_accounts(auth: AuthActions, alice: User) -> None:
    for i in range(5):
        assert auth.login(username=f"nobody{i}").status_code == 401
    assert auth.login(username="someone-else").status_code == 429


def test_redis_shares_limits_between_instances(tmp_path: Any, database_url: str) -> None:
    """Two app instances (as behind a proxy) share one Redis: the limit holds across both."""
    import redis

    url = shared_redis()
    prefix = uuid.uuid4().hex
    settings = {"redis_url": url, "login_limit_per_account": "2/minute"}
    first = make_app(database_url, tmp_path, **settings)
    second = make_app(database_url, tmp_path, **settings)
    a1, a2 = AuthActions(first.test_client()), AuthActions(second.test_client())
    name = "user-" + prefix[:8]
    assert a1.login(username=name, password=PASSWORD).status_code == 401
    assert a2.login(username=name, password=PASSWORD).status_code == 401
    assert a1.login(username=name, password=PASSWORD).status_code == 429
    assert a2.login(username=name, password=PASSWORD).status_code == 429
    # The counts really live in Redis, where every instance sees them.
    keys = redis.Redis.from_url(url).keys(f"*account:{name}*")
    assert keys, "no rate-limit keys in Redis"


def test_passkey_challenges_are_limited_per_address(client: FlaskClient, db: Session) -> None:
    """Every options request stores a challenge row: a flood gets 429s, not a full table."""
    from app.models import OneTimeToken
    from tests.conftest import csrf_from

    headers = {"X-CSRFToken": csrf_from(client.get("/login").get_data(as_text=True))}
    for _ in range(4):
        assert client.post("/webauthn/login/options", json={}, headers=headers).status_code == 200
    resp = client.post("/webauthn/login/options", json={}, headers=headers)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"] == "throttled"
    assert len(db.scalars(select(OneTimeToken)).all()) == 4
    row = db.scalar(select(AuditEvent).where(AuditEvent.tag == "auth:throttled"))
    assert row is not None and row.method == "passkey"


def test_a_throttled_flood_writes_one_audit_row_per_limit(client: FlaskClient, db: Session) -> None:
    """Every refused request would otherwise add a row: the flood would move from the
    challenge table to the audit table."""
    from sqlalchemy import func

    from tests.conftest import csrf_from

    headers = {"X-CSRFToken": csrf_from(client.get("/login").get_data(as_text=True))}
    for _ in range(4):
        assert client.post("/webauthn/login/options", json={}, headers=headers).status_code == 200
    for _ in range(50):
        assert client.post("/webauthn/login/options", json={}, headers=headers).status_code == 429
    throttled = db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.tag == "auth:throttled")
    )
    assert throttled == 1


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.9", "192.0.2.9"),
    ],
)
def test_throttling_counts_an_ipv6_client_by_its_64(app: Any, address: str, key: str) -> None:
    from app.web.client import throttle_key

    with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        assert throttle_key() == key


def test_rotating_within_a_64_does_not_escape_the_address_limit(
    client: FlaskClient, alice: User
) -> None:
    from tests.conftest import csrf_from

    def attempt(n: int) -> int:
        env = {"REMOTE_ADDR": f"2001:db8:7:7::{n:x}"}
        page = client.get("/login", environ_base=env).get_data(as_text=True)
        return client.post(
            "/login",
            environ_base=env,
            data={
                "username": f"nobody{n}",
                "password": "wrong wrong wrong",
                "csrf_token": csrf_from(page),
            },
        ).status_code

    assert [attempt(n) for n in range(1, 6)] == [401] * 5  # five failures per address
    assert attempt(6) == 429  # a new address in the same /64 is the same client


@pytest.mark.parametrize("app_overrides", [{"login_limit_per_account": "2/hour"}])
def test_the_page_says_how_long_to_wait(auth: AuthActions, alice: User) -> None:
    for _ in range(2):
        assert auth.login(password="wrong wrong wrong").status_code == 401
    resp = auth.login(password="wrong wrong wrong")
    assert resp.status_code == 429
    assert "Please wait at least about 60 minutes and try again." in resp.get_data(as_text=True)
    assert 3500 < int(resp.headers["Retry-After"]) <= 3600


def _from(address: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _login(client: FlaskClient, address: str, username: str, password: str) -> int:
    from tests.conftest import csrf_from

    page = client.get("/login", **_from(address)).get_data(as_text=True)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page)},
        **_from(address),
    ).status_code


def test_a_request_refused_by_its_address_limit_charges_no_account(
    client: FlaskClient, alice: User
) -> None:
    """Issue #17: one address flooding pushed every account it named past its limit."""
    noisy, owner = "203.0.113.50", "198.51.100.7"
    assert [_login(client, noisy, f"nobody{i}", "wrong") for i in range(5)] == [401] * 5
    assert [_login(client, noisy, "alice", "wrong wrong") for _ in range(10)] == [429] * 10
    # alice's allowance (3/minute) is untouched: three wrong passwords are checked...
    assert [_login(client, owner, "alice", "wrong wrong") for _ in range(3)] == [401] * 3
    # ...and only then is the account's limit reached
    assert _login(client, owner, "alice", PASSWORD) == 429


def test_a_request_refused_by_the_account_limit_charges_no_address(
    client: FlaskClient, alice: User
) -> None:
    address = "203.0.113.51"
    assert [_login(client, address, "alice", "wrong wrong") for _ in range(3)] == [401] * 3
    assert [_login(client, address, "alice", "wrong") for _ in range(5)] == [429] * 5
    # the address (5/minute) has spent three: two more failures, then its own limit
    assert [_login(client, address, f"nobody{i}", "x") for i in range(3)] == [401, 401, 429]


def test_a_form_that_does_not_validate_charges_the_address_not_the_account(
    client: FlaskClient, alice: User, db: Session
) -> None:
    """No password was checked: nothing for the account's count."""
    from tests.conftest import csrf_from

    for n in range(6):
        address = f"203.0.113.{60 + n}"
        page = client.get("/login", **_from(address)).get_data(as_text=True)
        resp = client.post(
            "/login",
            data={"username": "alice", "password": "", "csrf_token": csrf_from(page)},
            **_from(address),
        )
        assert resp.status_code == 400
    assert [_login(client, "198.51.100.8", "alice", "wrong wrong") for _ in range(3)] == [401] * 3
    assert db.scalar(select(AuditEvent).where(AuditEvent.tag == "auth:throttled")) is None


def test_a_throttled_request_writes_the_headers_of_the_window_that_refused(
    client: FlaskClient, alice: User
) -> None:
    for _ in range(3):
        _login(client, "203.0.113.52", "alice", "wrong wrong")
    page = client.get("/login", **_from("203.0.113.52")).get_data(as_text=True)
    from tests.conftest import csrf_from

    resp = client.post(
        "/login",
        data={"username": "alice", "password": "x", "csrf_token": csrf_from(page)},
        **_from("203.0.113.52"),
    )
    assert resp.status_code == 429
    assert resp.headers["X-RateLimit-Limit"] == "3"
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(resp.headers["Retry-After"]) <= 61


def test_sign_in_stays_throttled_when_redis_is_down(
    tmp_path: Any, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/deployment.md: with Redis unreachable each instance counts in its own memory;
    sign-in is neither down nor unthrottled, and the outage is logged and audited once."""
    import socket

    from sqlalchemy import func

    from app.db import EXTENSION
    from app.web.throttle import storage_healthy

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = make_app(
        database_url,
        tmp_path,
        redis_url=f"redis://127.0.0.1:{port}/0",
        login_limit_per_account="3/minute",
    )
    db = app.extensions[EXTENSION]()
    from tests.conftest import make_user

    make_user(db, app, "alice")
    auth = AuthActions(app.test_client())
    assert [auth.login(password="wrong wrong").status_code for _ in range(5)] == [
        401,
        401,
        401,
        429,
        429,
    ]
    assert auth.login().status_code == 429
    assert not storage_healthy(app)
    rows = db.scalars(select(AuditEvent).where(AuditEvent.tag == "system:throttle:storage")).all()
    assert len(rows) == 1 and rows[0].outcome == "failure"
    assert rows[0].reason == "storage_unavailable"
    assert (
        db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.tag == "auth:throttled")
        )
        == 1
    )
    assert "throttle storage unavailable" in caplog.text
    assert AuthActions(app.test_client()).login(username="bob").status_code == 401
    db.close()

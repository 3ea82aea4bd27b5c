"""Two instances on one Redis and one database, as behind a proxy (issue 17 with issue 14):
the account's counter of wrong passwords and a device token's own allowance hold across
both, so the owner's browser signs in on either while guesses spread over both lock new
browsers out; and the hash budget's refusals are audited once per address and minute,
whichever instance refused. Each test's deployment has a Redis prefix of its own
(``KEYSTILE_REDIS_PREFIX``), as deployments sharing a Redis must: the database ids its
counts are keyed by start again with every test's tables."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import create_app
from app.db import engine_of
from app.models import AuditEvent
from app.services.audit import Event
from app.services.hash_budget import HashBudget
from app.web.devices import COOKIE
from tests.conftest import PASSWORD, make_app, make_user, shared_redis, sign_in


@dataclass
class Pair:
    a: Flask
    b: Flask
    #: an account name and an IPv6 /48 of this test's own
    name: str
    net: str

    def address(self, n: int) -> str:
        """The ``n``-th client address: each in a /64 of its own (throttled apart)."""
        return f"{self.net}:{n:x}::1"


@pytest.fixture
def pair(database_url: str, tmp_path: Path) -> Iterator[Pair]:
    tag = secrets.token_hex(4)
    settings = {
        "redis_url": shared_redis(),
        "redis_prefix": f"keystile-test-{tag}",
        "login_limit_per_account": "3/minute",
        "login_limit_per_address": "5/minute",
        "login_limit_per_device": "2/minute",
        "hash_slots": 1,
        "hash_wait_ms": 0,
    }
    a = make_app(database_url, tmp_path / "a", **settings)
    b = make_app(database_url, tmp_path / "b", **settings)  # the same tables, fresh
    pair = Pair(a, b, name=f"owner-{tag}", net=f"2001:db8:{tag[:4]}")
    with Session(engine_of(a)) as db:
        make_user(db, a, pair.name)
    yield pair
    for app in (a, b):
        engine_of(app).dispose()


def test_the_owner_signs_in_on_either_instance_while_guesses_spread_over_both(
    pair: Pair,
) -> None:
    owner = pair.a.test_client()
    assert sign_in(owner, pair.name, PASSWORD, pair.address(1)) == 303
    token = owner.get_cookie(COOKIE)
    assert token is not None

    # wrong passwords naming the account, each from a new browser and address, a then b:
    # the account's limit (3 a minute) is counted once, in Redis
    guesses = [
        sign_in(app.test_client(), pair.name, f"wrong {n}", pair.address(100 + n))
        for n, app in enumerate([pair.a, pair.b] * 3)
    ]
    assert guesses == [401, 401, 401, 429, 429, 429]
    for app in (pair.a, pair.b):
        assert sign_in(app.test_client(), pair.name, PASSWORD, pair.address(200)) == 429

    # the owner's browser carries its token to the other instance, which honours it
    on_b = pair.b.test_client()
    on_b.set_cookie(COOKIE, token.value)
    assert sign_in(on_b, pair.name, PASSWORD, pair.address(2)) == 303
    # its own allowance (2 a minute) is counted across the instances too
    on_a = pair.a.test_client()
    on_a.set_cookie(COOKIE, token.value)
    assert sign_in(on_a, pair.name, "mistyped", pair.address(3)) == 401
    assert sign_in(on_b, pair.name, "mistyped", pair.address(3)) == 401
    assert sign_in(on_a, pair.name, PASSWORD, pair.address(3)) == 429


def test_budget_refusals_on_both_instances_are_audited_once_per_address(pair: Pair) -> None:
    budgets: list[HashBudget] = [app.extensions["keystile.hash_budget"] for app in (pair.a, pair.b)]
    address, other = pair.address(7), pair.address(8)
    with (
        budgets[0].slot(address="192.0.2.1", account="held"),
        budgets[1].slot(address="192.0.2.1", account="held"),
    ):
        answers = [
            sign_in(app.test_client(), pair.name, PASSWORD, client_address)
            for app, client_address in [
                (pair.a, address),
                (pair.b, address),
                (pair.a, address),
                (pair.b, other),
            ]
        ]
    assert answers == [429] * 4
    with Session(engine_of(pair.a)) as db:
        busy = db.scalars(
            select(AuditEvent.address).where(
                AuditEvent.tag == str(Event.THROTTLED), AuditEvent.reason == "busy"
            )
        ).all()
    # IPv6 addresses are audited as the client sent them, and counted by their /64
    assert sorted(busy) == sorted([address, other])
    # no password was checked: nothing counts against the account
    assert sign_in(pair.b.test_client(), pair.name, PASSWORD, pair.address(9)) == 303


def test_deployments_with_prefixes_of_their_own_count_apart(pair: Pair) -> None:
    """An instance on the same Redis and database but with another ``KEYSTILE_REDIS_PREFIX``
    belongs to another deployment: the account's limit, spent on the pair, is not spent
    there."""
    for n in range(4):
        sign_in(pair.a.test_client(), pair.name, "wrong", pair.address(50 + n))
    assert sign_in(pair.b.test_client(), pair.name, PASSWORD, pair.address(60)) == 429
    own = pair.a.extensions["keystile.settings"]
    elsewhere = create_app(
        {
            field.name: getattr(own, field.name)
            for field in dataclasses.fields(own)
            if field.name != "redis_prefix"
        }
        | {"redis_prefix": f"{own.redis_prefix}-elsewhere"}
    )
    try:
        assert sign_in(elsewhere.test_client(), pair.name, PASSWORD, pair.address(61)) == 303
    finally:
        engine_of(elsewhere).dispose()

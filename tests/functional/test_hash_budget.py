"""The password sign-in under the hash budget: refused at once without hashing when no slot
comes free, audited once per address per window, fair between addresses, and the unknown
username's dummy verification draws from the same budget."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEvent, User
from app.services.audit import Event
from app.services.hash_budget import HashBudget
from app.services.passwords import Passwords
from tests.conftest import PASSWORD, AuthActions, csrf_from

PROXY = "10.9.8.7"
LIMIT = "100000/minute"
WRONG = "wrong guess"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {
        "hash_slots": 1,
        "hash_wait_ms": 0,
        "trusted_proxies": PROXY,
        "login_limit_per_address": LIMIT,
        "login_limit_per_account": LIMIT,
    }


@pytest.fixture
def budget(app: Flask) -> HashBudget:
    found: HashBudget = app.extensions["keystile.hash_budget"]
    return found


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts argon2id verifications (real and dummy)."""
    counted: Counter[str] = Counter()
    verify, dummy = Passwords.verify, Passwords.verify_dummy

    def counting_verify(self: Passwords, stored: str, password: str) -> bool:
        counted["verify"] += 1
        return verify(self, stored, password)

    def counting_dummy(self: Passwords, password: str) -> None:
        counted["dummy"] += 1
        dummy(self, password)

    monkeypatch.setattr(Passwords, "verify", counting_verify)
    monkeypatch.setattr(Passwords, "verify_dummy", counting_dummy)
    return counted


def _guess(
    client: FlaskClient, username: str, password: str = WRONG, address: str = "192.0.2.10"
) -> Any:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": address},
        environ_base={"REMOTE_ADDR": PROXY},
    )


def test_budget_settings_reach_the_app(budget: HashBudget) -> None:
    assert (budget.slots, budget.wait) == (1, 0)


@pytest.mark.parametrize("app_overrides", [{}])
def test_the_default_budget_is_the_cores_and_a_short_wait(budget: HashBudget) -> None:
    import os

    assert budget.slots == len(os.sched_getaffinity(0)) and budget.wait == 0.25


@pytest.mark.parametrize("username", ["alice", "nobody"], ids=["known", "unknown"])
def test_no_slot_is_a_fast_429_without_hashing(
    client: FlaskClient,
    alice: User,
    budget: HashBudget,
    hashes: Counter[str],
    db: Session,
    username: str,
) -> None:
    with budget.slot(address="198.51.100.1", account="someone"):
        started = time.monotonic()
        resp = _guess(client, username, PASSWORD)
        took = time.monotonic() - started
        again = _guess(client, username, PASSWORD)
    assert resp.status_code == again.status_code == 429
    # At least the budget's second (Flask-Limiter's header hook keeps the later of its
    # window's reset and the view's own value).
    assert int(resp.headers["Retry-After"]) >= 1
    page = resp.get_data(as_text=True)
    assert "very busy" in page and "<h1>Busy</h1>" in page and "Too many" not in page
    assert took < 1.0
    assert hashes == Counter()
    rows = db.scalars(select(AuditEvent).where(AuditEvent.tag == str(Event.THROTTLED))).all()
    assert [(r.reason, r.address, r.details["limit"]) for r in rows] == [
        ("busy", "192.0.2.10", "hash budget")
    ]  # two refusals, one row
    assert not db.scalars(
        select(AuditEvent).where(AuditEvent.tag == str(Event.PASSWORD_FAILURE))
    ).all()
    # The slot free again, the same sign-in goes through.
    assert _guess(client, "alice", PASSWORD).status_code == 303


def test_a_refusal_answers_json_to_a_client_that_asks(
    client: FlaskClient, budget: HashBudget
) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    with budget.slot(address="198.51.100.1", account=""):
        resp = client.post(
            "/login",
            data={"username": "alice", "password": "x" * 8, "csrf_token": token},
            headers={"Accept": "application/json"},
        )
    assert resp.status_code == 429 and resp.get_json()["error"] == "busy"


def test_the_unknown_username_holds_a_slot_while_it_hashes(
    client: FlaskClient, budget: HashBudget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dummy verification (no enumeration by timing) is counted like a real one."""
    seen: list[int] = []
    dummy = Passwords.verify_dummy

    def watching(self: Passwords, password: str) -> None:
        seen.append(budget.busy)
        dummy(self, password)

    monkeypatch.setattr(Passwords, "verify_dummy", watching)
    assert _guess(client, "nobody").status_code == 401
    assert seen == [1] and budget.busy == 0


@pytest.mark.parametrize(
    "app_overrides",
    [
        {
            "hash_slots": 2,
            "hash_wait_ms": 250,
            "trusted_proxies": PROXY,
            "login_limit_per_address": LIMIT,
            "login_limit_per_account": LIMIT,
        }
    ],
)
def test_one_address_flooding_leaves_room_for_another(
    app: Flask, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six threads of one address guess with 40 ms hashes; alice, from another address,
    signs in five times and is never refused."""
    verify = Passwords.verify

    def slow_verify(self: Passwords, stored: str, password: str) -> bool:
        time.sleep(0.04)
        return verify(self, stored, password)

    monkeypatch.setattr(Passwords, "verify", slow_verify)
    monkeypatch.setattr(Passwords, "verify_dummy", lambda self, pw: time.sleep(0.04))
    stop = threading.Event()
    flood: Counter[int] = Counter()

    def flooding(n: int) -> None:
        client = app.test_client()
        while not stop.is_set():
            flood[_guess(client, f"user{n}", address="203.0.113.66").status_code] += 1

    threads = [threading.Thread(target=flooding, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    try:
        owner = AuthActions(app.test_client())
        answers = []
        for _ in range(5):
            answers.append(
                _guess(owner.client, "alice", PASSWORD, address="192.0.2.20").status_code
            )
            owner.client.post("/logout", data={"csrf_token": owner.csrf("/account")})
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert answers == [303] * 5
    assert flood[429] > 0 and flood[401] > 0
    assert set(flood) <= {401, 429}

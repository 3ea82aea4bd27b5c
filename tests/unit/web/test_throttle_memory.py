"""The in-memory throttle storage: limits' own counting, with expired keys forgotten a few
at a time on the request path instead of by a timer thread walking every key."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app import create_app
from app.web import throttle_memory
from app.web.throttle_memory import SweptMemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``time.time`` as limits' entries and the sweep read it."""
    fake = Clock()
    monkeypatch.setattr("time.time", fake)
    return fake


@pytest.fixture
def storage() -> Iterator[SweptMemoryStorage]:
    made = storage_from_string(f"{throttle_memory.SCHEME}://")
    assert isinstance(made, SweptMemoryStorage)
    made.timer.join()  # the one MemoryStorage starts; cancelled, it ends at once
    yield made


def test_the_limits_hold_as_limits_counts_them(storage: SweptMemoryStorage,
                                               clock: Clock) -> None:
    limiter = MovingWindowRateLimiter(storage)
    three = parse("3/minute")
    assert [limiter.hit(three, "login", "203.0.113.7") for _ in range(4)] == [
        True, True, True, False]
    clock.now += 30
    assert not limiter.hit(three, "login", "203.0.113.7")
    clock.now += 31
    assert limiter.hit(three, "login", "203.0.113.7")


def test_counting_many_keys_starts_no_thread(storage: SweptMemoryStorage) -> None:
    limiter = MovingWindowRateLimiter(storage)
    before = set(threading.enumerate())
    for n in range(3000):
        limiter.hit(parse("10/hour"), "login-account", f"account:user{n}")
    assert set(threading.enumerate()) <= before


def test_expired_keys_are_forgotten_by_later_counts(storage: SweptMemoryStorage,
                                                    clock: Clock) -> None:
    limiter = MovingWindowRateLimiter(storage)
    for n in range(1000):  # a client trying a thousand usernames
        limiter.hit(parse("10/minute"), "login-account", f"account:user{n}")
    assert len(storage.events) == 1000
    clock.now += 61
    for _ in range(1000 // SweptMemoryStorage.SWEEP_PER_COUNT + 2):
        limiter.hit(parse("100/minute"), "login-address", "198.51.100.1")
    assert list(storage.events) == ["LIMITER/login-address/198.51.100.1/100/1/minute"]
    assert set(storage.locks) <= set(storage.events)


def test_a_live_window_keeps_its_entries_through_a_sweep(storage: SweptMemoryStorage,
                                                        clock: Clock) -> None:
    limiter = MovingWindowRateLimiter(storage)
    two = parse("2/minute")
    limiter.hit(two, "login", "old")
    clock.now += 40
    limiter.hit(two, "login", "old")
    clock.now += 30  # the first entry expired, the second has 30 s left
    for n in range(50):
        limiter.hit(parse("1/second"), "other", str(n))
    assert len(storage.events["LIMITER/login/old/2/1/minute"]) == 1
    assert limiter.hit(two, "login", "old")
    assert not limiter.hit(two, "login", "old")


def test_a_count_looks_at_a_bounded_number_of_keys(storage: SweptMemoryStorage,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the number of keys, one count looks at SWEEP_PER_COUNT of them (limits' own
    timer walked all of them every 10 ms: over 50,000 keys, about 107 ms a walk)."""
    limiter = MovingWindowRateLimiter(storage)
    for n in range(5000):
        limiter.hit(parse("10/hour"), "login-account", f"account:user{n}")
    looked_at: list[str] = []
    forget = storage._forget_expired
    monkeypatch.setattr(storage, "_forget_expired",
                        lambda key, now: (looked_at.append(key), forget(key, now)))
    limiter.hit(parse("10/hour"), "login-account", "account:one-more")
    assert len(looked_at) == SweptMemoryStorage.SWEEP_PER_COUNT


def test_keystile_counts_in_it_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYSTILE_REDIS_URL", raising=False)
    app = create_app({"env": "testing", "secret_key": "s" * 48,
                      "database_url": "sqlite://"})
    from app.extensions import limiter

    with app.app_context():
        assert isinstance(limiter.storage, SweptMemoryStorage)

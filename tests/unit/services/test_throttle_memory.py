"""The in-memory throttle storage: limits' moving windows through its public storage
interface, with expired keys forgotten a few at a time on the request path instead of by a
timer thread walking every key."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app import create_app
from app.services import throttle_memory
from app.services.throttle_memory import BoundedMemoryStorage


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
def storage() -> Iterator[BoundedMemoryStorage]:
    made = storage_from_string(f"{throttle_memory.SCHEME}://")
    assert isinstance(made, BoundedMemoryStorage)
    yield made


def test_the_limits_hold_as_limits_counts_them(storage: BoundedMemoryStorage, clock: Clock) -> None:
    limiter = MovingWindowRateLimiter(storage)
    three = parse("3/minute")
    assert [limiter.hit(three, "login", "203.0.113.7") for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    clock.now += 30
    assert not limiter.hit(three, "login", "203.0.113.7")
    clock.now += 31
    assert limiter.hit(three, "login", "203.0.113.7")


def test_counting_many_keys_starts_no_thread(storage: BoundedMemoryStorage) -> None:
    limiter = MovingWindowRateLimiter(storage)
    before = set(threading.enumerate())
    for n in range(3000):
        limiter.hit(parse("10/hour"), "login-account", f"account:user{n}")
    assert set(threading.enumerate()) <= before


def test_expired_keys_are_forgotten_by_later_counts(
    storage: BoundedMemoryStorage, clock: Clock
) -> None:
    limiter = MovingWindowRateLimiter(storage)
    for n in range(1000):  # a client trying a thousand usernames
        limiter.hit(parse("10/minute"), "login-account", f"account:user{n}")
    assert len(storage.windows) == 1000
    clock.now += 61
    for _ in range(1000 // BoundedMemoryStorage.SWEEP_PER_COUNT + 2):
        limiter.hit(parse("100/minute"), "login-address", "198.51.100.1")
    assert list(storage.windows) == ["LIMITER/login-address/198.51.100.1/100/1/minute"]


def test_a_live_window_keeps_its_entries_through_a_sweep(
    storage: BoundedMemoryStorage, clock: Clock
) -> None:
    limiter = MovingWindowRateLimiter(storage)
    two = parse("2/minute")
    limiter.hit(two, "login", "old")
    clock.now += 40
    limiter.hit(two, "login", "old")
    clock.now += 30  # the first entry expired, the second has 30 s left
    for n in range(50):
        limiter.hit(parse("1/second"), "other", str(n))
    assert len(storage.windows["LIMITER/login/old/2/1/minute"].times) == 1
    assert limiter.hit(two, "login", "old")
    assert not limiter.hit(two, "login", "old")


def test_a_count_looks_at_a_bounded_number_of_keys(
    storage: BoundedMemoryStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the number of keys, one count looks at SWEEP_PER_COUNT of them (limits' own
    timer walked all of them every 10 ms: over 50,000 keys, about 107 ms a walk)."""
    limiter = MovingWindowRateLimiter(storage)
    for n in range(5000):
        limiter.hit(parse("10/hour"), "login-account", f"account:user{n}")
    looked_at: list[str] = []
    forget = storage._forget_expired
    monkeypatch.setattr(
        storage, "_forget_expired", lambda key, now: (looked_at.append(key), forget(key, now))
    )
    limiter.hit(parse("10/hour"), "login-account", "account:one-more")
    assert len(looked_at) == BoundedMemoryStorage.SWEEP_PER_COUNT


def test_counters_expire_with_their_window(storage: BoundedMemoryStorage, clock: Clock) -> None:
    """``incr`` (the once-per-window audit marker) starts a new window once one has passed."""
    assert [storage.incr("marker", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("marker") == 3 and storage.get_expiry("marker") == clock.now + 60
    clock.now += 61
    assert storage.get("marker") == 0
    assert storage.incr("marker", 60) == 1


def test_window_stats_read_as_limits_reads_them(
    storage: BoundedMemoryStorage, clock: Clock
) -> None:
    limiter = MovingWindowRateLimiter(storage)
    three = parse("3/minute")
    start = clock.now
    assert limiter.get_window_stats(three, "k") == (start + 60, 3)
    limiter.hit(three, "k")
    clock.now += 10
    limiter.hit(three, "k")
    assert limiter.get_window_stats(three, "k") == (start + 60, 1)
    assert limiter.test(three, "k") and not limiter.test(three, "k", cost=2)
    limiter.clear(three, "k")
    assert limiter.get_window_stats(three, "k").remaining == 3


def test_keystile_counts_in_it_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYSTILE_REDIS_URL", raising=False)
    app = create_app({"env": "testing", "secret_key": "s" * 48, "database_url": "sqlite://"})
    from app.web.throttle import throttle_of

    throttle = throttle_of(app)
    assert isinstance(throttle.storage, BoundedMemoryStorage) and throttle.healthy()

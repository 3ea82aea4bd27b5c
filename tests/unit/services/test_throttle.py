"""The throttle service: how it counts, and what happens when its Redis goes away."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services.throttle import Limit, Throttle
from app.services.throttle_memory import BoundedMemoryStorage
from tests.conftest import require

THREE = Limit.of("auth.login_post:login-account", "3/minute;5/hour")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[bool, str]] = []

    def __call__(self, healthy: bool, detail: str) -> None:
        self.seen.append((healthy, detail))


def test_hit_counts_requests_and_refuses_a_full_window() -> None:
    throttle = Throttle()
    assert [throttle.hit(THREE, "account:alice") is None for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    breach = throttle.hit(THREE, "account:alice")
    assert breach is not None and breach.window.item.amount == 3
    assert 55 <= breach.wait <= 60
    assert throttle.hit(THREE, "account:bob") is None  # keys are apart


def test_test_counts_nothing_and_charge_counts_every_window() -> None:
    throttle = Throttle()
    for _ in range(10):
        assert throttle.test(THREE, "k") is None
    for _ in range(3):
        throttle.charge(THREE, "k")
    breach = throttle.test(THREE, "k")
    assert breach is not None and [w.item.amount for w in breach.full] == [3]
    window = throttle.window(THREE, "k")
    assert window is not None and window.remaining == 0
    hour = Limit.of(THREE.scope, "5/hour")  # the same key: the hour window counted too
    assert throttle.window(hour, "k").remaining == 2  # type: ignore[union-attr]


def test_standing_is_test_and_the_shortest_window_in_one_read_per_window() -> None:
    throttle = Throttle()
    for charged in range(7):
        breach, window = throttle.standing(THREE, "k")
        assert (breach is None) == (throttle.test(THREE, "k") is None)
        assert window is not None and window.item.amount == 3
        assert window.remaining == max(0, 3 - charged)
        full = [] if breach is None else [w.item.amount for w in breach.full]
        assert full == [3] * (charged >= 3) + [5] * (charged >= 5)
        throttle.charge(THREE, "k")
    assert Throttle(enabled=False).standing(THREE, "k") == (None, None)


def test_another_refusal_is_audited_once_per_key_and_window() -> None:
    throttle = Throttle()
    budget = Limit.of("auth.login_post:hash-budget", "1/minute")
    assert [throttle.first_refusal(budget, "192.0.2.1") for _ in range(3)] == [True, False, False]
    assert throttle.first_refusal(budget, "192.0.2.2")
    assert throttle.first_refusal(Limit.of("other", "1/minute"), "192.0.2.1")


def test_a_breach_is_reported_once_per_window() -> None:
    throttle = Throttle()
    for _ in range(3):
        throttle.charge(THREE, "k")
    breach = throttle.test(THREE, "k")
    assert breach is not None
    assert [throttle.first_refusal_in_window(breach) for _ in range(5)] == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_a_disabled_throttle_refuses_nothing() -> None:
    throttle = Throttle(enabled=False)
    for _ in range(5):
        throttle.charge(THREE, "k")
    assert throttle.hit(THREE, "k") is None and throttle.window(THREE, "k") is None


def test_redis_down_counts_in_memory_and_reports_once(caplog: pytest.LogCaptureFixture) -> None:
    """A Redis URL whose port nobody listens on: every limit still holds (in this process),
    the failure is logged and reported once, and the health check says so."""
    reports = Reports()
    throttle = Throttle(f"redis://127.0.0.1:{free_port()}/0", on_storage_change=reports)
    started = time.monotonic()
    assert [throttle.hit(THREE, "k") is None for _ in range(5)] == [True] * 3 + [False] * 2
    assert time.monotonic() - started < 2  # refused at once, no long waits
    assert [healthy for healthy, _ in reports.seen] == [False]
    assert "Connection refused" in reports.seen[0][1] or "Error" in reports.seen[0][1]
    assert isinstance(throttle.storage, BoundedMemoryStorage)
    assert not throttle.healthy()
    assert "throttle storage unavailable" in caplog.text


class RedisServer:
    """A redis-server of a test's own on a free port, so stopping it touches nothing else."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # ready when it answers PING
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server")
    server = RedisServer(str(binary), tmp_path)
    server.start()
    yield server
    server.stop()


def test_redis_stopped_and_started_again(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Throttle, "RETRY_SECONDS", 0.0)
    reports = Reports()
    url = f"redis://127.0.0.1:{redis_server.port}/0"
    first, second = Throttle(url, on_storage_change=reports), Throttle(url)
    assert first.hit(THREE, "k") is None and second.hit(THREE, "k") is None
    assert first.window(THREE, "k").remaining == 1  # type: ignore[union-attr]  # shared
    assert first.healthy()
    redis_server.stop()
    assert [first.hit(THREE, "k") is None for _ in range(4)] == [True] * 3 + [False]
    assert not first.healthy()
    assert [h for h, _ in reports.seen] == [False]  # once, however many counts
    redis_server.start()
    assert first.healthy()
    assert [h for h, _ in reports.seen] == [False, True]
    assert first.hit(THREE, "k") is None  # counting in Redis again


def test_counts_add_up_in_the_real_redis() -> None:
    url = os.environ.get("KEYSTILE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    probe = Throttle(url)
    require(probe.healthy(), f"Redis at {url}")
    key = f"account:{time.time_ns()}"
    a, b = Throttle(url), Throttle(url)
    assert a.hit(THREE, key) is None and b.hit(THREE, key) is None
    assert a.hit(THREE, key) is None
    assert b.hit(THREE, key) is not None
    assert isinstance(a.storage, type(b.storage)) and not isinstance(
        a.storage, BoundedMemoryStorage
    )


def test_a_unix_socket_url_is_a_redis_storage(tmp_path: Path) -> None:
    """``KEYSTILE_REDIS_URL=unix:///...`` (the socket form the settings accept) is limits'
    ``redis+unix://``; nobody listens on this one, so the throttle says it is unhealthy."""
    throttle = Throttle(f"unix://{tmp_path}/redis.sock")
    assert type(throttle.storage).__name__ == "RedisStorage"
    assert not throttle.healthy()
    assert isinstance(throttle.storage, BoundedMemoryStorage)

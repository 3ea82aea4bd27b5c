"""The hash budget: a cap, a bounded wait, fair shares between addresses and accounts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from app.services.hash_budget import HashBudget, NoHashSlot, default_slots


@contextmanager
def holding(budget: HashBudget, address: str, account: str = "") -> Iterator[threading.Event]:
    """A thread that holds one slot until the yielded event is set."""
    taken, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with budget.slot(address=address, account=account):
                taken.set()
                done.wait(5)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)
            taken.set()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(5)
    if errors:
        raise errors[0]
    try:
        yield done
    finally:
        done.set()
        thread.join(5)


def test_default_slots_are_the_cores_this_process_may_use() -> None:
    import os

    assert default_slots() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("slots", "wait"), [(0, 0.1), (1, -1)])
def test_a_budget_needs_a_slot_and_a_wait(slots: int, wait: float) -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        HashBudget(slots, wait)


def test_no_slot_is_refused_after_the_bounded_wait() -> None:
    budget = HashBudget(1, 0.1)
    with holding(budget, "192.0.2.1"):
        started = time.monotonic()
        with pytest.raises(NoHashSlot) as refusal, budget.slot(address="192.0.2.2", account=""):
            pytest.fail("ran without a slot")
        waited = time.monotonic() - started
    assert refusal.value.reason == "busy"
    assert 0.09 <= waited < 0.5
    assert budget.busy == 0


def test_a_slot_freed_during_the_wait_is_taken() -> None:
    budget = HashBudget(1, 2.0)
    with holding(budget, "192.0.2.1") as release:
        threading.Timer(0.05, release.set).start()
        started = time.monotonic()
        with budget.slot(address="192.0.2.2", account="bob"):
            assert budget.busy == 1
        assert time.monotonic() - started < 1.0
    assert budget.busy == 0


def test_an_exception_in_the_block_frees_the_slot() -> None:
    budget = HashBudget(1, 0)
    with pytest.raises(RuntimeError), budget.slot(address="a", account="b"):
        raise RuntimeError
    with budget.slot(address="a", account="b"):
        assert budget.busy == 1


def test_one_address_alone_may_use_every_slot() -> None:
    budget = HashBudget(3, 0)
    with ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(holding(budget, "192.0.2.1"))
        assert budget.busy == 3


def test_an_address_queues_no_more_waiters_than_slots() -> None:
    """Refused at once (no wait) once it has as many waiters as there are slots."""
    budget = HashBudget(1, 5.0)
    with holding(budget, "192.0.2.1") as release:
        waiter = threading.Thread(target=lambda: _try(budget, "192.0.2.1"))
        waiter.start()
        _until(lambda: budget._queued["a:192.0.2.1"] == 1)
        started = time.monotonic()
        with pytest.raises(NoHashSlot) as refusal, budget.slot(address="192.0.2.1", account=""):
            pytest.fail("ran without a slot")
        assert refusal.value.reason == "share"
        assert time.monotonic() - started < 0.5
        release.set()
        waiter.join(5)


def test_a_freed_slot_goes_to_the_address_under_its_share() -> None:
    """The flooding address queued first, yet the other address gets the freed slot."""
    budget = HashBudget(2, 5.0)
    order: list[str] = []
    with holding(budget, "flood") as first, holding(budget, "flood"):
        flood_waiter = threading.Thread(target=lambda: _try(budget, "flood", order))
        flood_waiter.start()
        _until(lambda: budget._queued["a:flood"] == 1)
        other = threading.Thread(target=lambda: _try(budget, "owner", order))
        other.start()
        _until(lambda: budget._queued["a:owner"] == 1)
        first.set()  # one of the flood's slots frees
        _until(lambda: len(order) == 2)
    flood_waiter.join(5)
    other.join(5)
    assert order == ["owner", "flood"]


def test_accounts_have_shares_too() -> None:
    """Many addresses naming one account hold no more than its share."""
    budget = HashBudget(2, 5.0)
    order: list[str] = []
    with holding(budget, "a1", "target") as first, holding(budget, "a2", "target"):
        spray = threading.Thread(target=lambda: _try(budget, "a3", order, "target"))
        spray.start()
        _until(lambda: budget._queued["u:target"] == 1)
        other = threading.Thread(target=lambda: _try(budget, "a4", order, "someone"))
        other.start()
        _until(lambda: budget._queued["u:someone"] == 1)
        first.set()
        _until(lambda: len(order) == 2)
    spray.join(5)
    other.join(5)
    assert order == ["a4", "a3"]


def test_a_full_queue_makes_room_for_an_address_with_fewer_waiters() -> None:
    """Two slots, two waiters at most: the flood's newest waiter is refused for the owner."""
    budget = HashBudget(2, 5.0)
    order: list[str] = []
    refused: list[str] = []
    with holding(budget, "flood"), holding(budget, "other"):
        floods = [
            threading.Thread(target=_try, args=(budget, "flood", order, "", refused))
            for _ in range(2)
        ]
        for n, t in enumerate(floods, 1):
            t.start()
            _until(lambda n=n: budget._queued["a:flood"] == n)
        owner = threading.Thread(target=_try, args=(budget, "owner", order))
        owner.start()
        _until(lambda: refused == ["flood"])
        assert budget._queued["a:owner"] == 1 and budget._queued["a:flood"] == 1
    for t in (*floods, owner):
        t.join(5)
    assert sorted(order) == ["flood", "owner"]


def test_a_full_queue_of_equals_refuses_the_newcomer_at_once() -> None:
    budget = HashBudget(1, 5.0)
    with holding(budget, "a1"):
        waiter = threading.Thread(target=_try, args=(budget, "a2"))
        waiter.start()
        _until(lambda: budget._queued["a:a2"] == 1)
        started = time.monotonic()
        with pytest.raises(NoHashSlot) as refusal, budget.slot(address="a3", account=""):
            pytest.fail("ran without a slot")
        assert refusal.value.reason == "busy" and time.monotonic() - started < 0.5
    waiter.join(5)


def test_priority_is_served_first_and_takes_a_place_in_a_full_queue() -> None:
    budget = HashBudget(1, 5.0, max_waiting=2)
    order: list[str] = []
    refused: list[str] = []
    with holding(budget, "a0") as release:
        plain = [
            threading.Thread(target=_try, args=(budget, f"a{n}", order, "", refused))
            for n in (1, 2)
        ]
        for n, t in enumerate(plain, 1):
            t.start()
            _until(lambda n=n: budget._queued[f"a:a{n}"] == 1)
        known = threading.Thread(target=lambda: _try_priority(budget, "owner", order))
        known.start()
        _until(lambda: refused == ["a2"])
        release.set()
        _until(lambda: len(order) == 2)
    for t in (*plain, known):
        t.join(5)
    assert order == ["owner", "a1"]


def test_the_owner_s_browser_takes_the_place_of_a_waiter_naming_its_account() -> None:
    """The account's queue is full (a guess naming it waits): a browser that signed in to it
    before is not refused for that, the guess is, and the browser gets the next slot."""
    budget = HashBudget(1, 5.0)
    order: list[str] = []
    refused: list[str] = []
    with holding(budget, "a0", "someone") as release:
        guess = threading.Thread(target=_try, args=(budget, "a1", order, "owner", refused))
        guess.start()
        _until(lambda: budget._queued["u:owner"] == 1)
        known = threading.Thread(target=lambda: _try_priority(budget, "a2", order, "owner"))
        known.start()
        _until(lambda: refused == ["a1"])
        release.set()
        _until(lambda: order == ["a2"])
    for t in (guess, known):
        t.join(5)
    assert order == ["a2"] and refused == ["a1"]


def test_a_guess_naming_an_account_whose_queue_is_full_is_refused() -> None:
    budget = HashBudget(1, 5.0)
    with holding(budget, "a0", "someone"):
        guess = threading.Thread(target=_try, args=(budget, "a1", None, "owner"))
        guess.start()
        _until(lambda: budget._queued["u:owner"] == 1)
        with pytest.raises(NoHashSlot) as refusal, budget.slot(address="a2", account="owner"):
            pytest.fail("ran without a slot")
        assert refusal.value.reason == "share"
    guess.join(5)


def test_under_a_flood_the_cap_holds_and_another_address_is_never_refused() -> None:
    """Eight threads of one address against one of another, each hash 20 ms."""
    budget = HashBudget(2, 0.25)
    in_use, peak = [0], [0]
    lock = threading.Lock()
    outcomes: Counter[tuple[str, str]] = Counter()
    stop = time.monotonic() + 1.5

    def guess(address: str) -> None:
        while time.monotonic() < stop:
            try:
                with budget.slot(address=address, account=f"user{threading.get_ident()}"):
                    with lock:
                        in_use[0] += 1
                        peak[0] = max(peak[0], in_use[0])
                    time.sleep(0.02)
                    with lock:
                        in_use[0] -= 1
                outcomes[address, "checked"] += 1
            except NoHashSlot as refusal:
                outcomes[address, refusal.reason] += 1
                time.sleep(0.001)

    threads = [threading.Thread(target=guess, args=("flood",)) for _ in range(8)]
    threads.append(threading.Thread(target=guess, args=("owner",)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak[0] <= 2
    assert outcomes["owner", "checked"] >= 20
    assert outcomes["owner", "busy"] == outcomes["owner", "share"] == 0
    assert outcomes["flood", "share"] > 0
    assert budget.busy == 0


def _try(
    budget: HashBudget,
    address: str,
    order: list[str] | None = None,
    account: str = "",
    refused: list[str] | None = None,
) -> None:
    try:
        with budget.slot(address=address, account=account):
            if order is not None:
                order.append(address)
    except NoHashSlot:
        if refused is None:
            raise
        refused.append(address)


def _try_priority(budget: HashBudget, address: str, order: list[str], account: str = "") -> None:
    with budget.slot(address=address, account=account, priority=True):
        order.append(address)


def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.002)


def test_the_owner_s_browser_waits_longer_than_the_others() -> None:
    from app.services.hash_budget import PRIORITY_WAIT

    budget = HashBudget(1, 0.05)
    with holding(budget, "a0") as release:
        with pytest.raises(NoHashSlot), budget.slot(address="a1", account=""):
            pytest.fail("ran without a slot")
        threading.Timer(0.05 * PRIORITY_WAIT / 2, release.set).start()
        started = time.monotonic()
        with budget.slot(address="a2", account="", priority=True):
            waited = time.monotonic() - started
    assert 0.05 < waited < 0.05 * PRIORITY_WAIT

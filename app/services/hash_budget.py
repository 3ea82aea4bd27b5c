"""A budget for password hashing: how many argon2id verifications one process runs at once.

An argon2id verification is the one costly thing a stranger can make Keystile do (OWASP's
parameters: 19 MiB and tens of milliseconds of one core each). Without a cap, a password
spray from many addresses queues verifications behind each other until every request, a
passkey's or a certificate's too, waits for a core (issue 17). The budget caps concurrent
verifications at the cores the process may use, waits a short bounded time for a slot,
and otherwise refuses at once, before any hashing.

The slots are shared fairly (in the manner of fair queueing, RFC 970): while others
contend, no address (an IPv6 client by its /64) and no account holds more than its share of
the slots, a freed slot goes to the longest waiter whose address and account are under their
share, and an address queues no more waiters than there are slots. One address flooding
therefore gets its share, and everyone else the rest.

Plain Python and thread-safe: one lock guards the counts, and each waiter waits on its own
event, so a release wakes the one it grants and nobody else.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


class NoHashSlot(Exception):
    """No verification slot came free in time; the caller answers without hashing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        #: ``busy`` (every slot taken for the whole wait) or ``share`` (this address or
        #: account already has its share, or as many waiters as there are slots)
        self.reason = reason


def default_slots() -> int:
    """The cores this process may run on (``sched_getaffinity``: a container's or
    ``taskset``'s limit, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(eq=False)
class _Waiter:
    address: str
    account: str
    granted: threading.Event = field(default_factory=threading.Event)


class HashBudget:
    """Slots for argon2id verifications in one process.

    Args:
        slots: how many verifications run at once.
        wait: seconds a request waits for a slot before it is refused.
    """

    def __init__(self, slots: int, wait: float) -> None:
        if slots < 1 or wait < 0:
            raise ValueError("a hash budget needs at least one slot and a wait of 0 or more")
        self.slots = slots
        self.wait = wait
        self._lock = threading.Lock()
        self._busy = 0
        self._held: Counter[str] = Counter()
        self._queued: Counter[str] = Counter()
        self._waiters: list[_Waiter] = []

    @property
    def busy(self) -> int:
        """Slots in use now."""
        with self._lock:
            return self._busy

    @contextmanager
    def slot(self, *, address: str, account: str) -> Iterator[None]:
        """Hold one slot for the block.

        Args:
            address: the client's throttle key (``app.web.client.throttle_key_of``).
            account: the account the request names (normalised username), or ``""``.

        Raises:
            NoHashSlot: no slot within ``wait``, or this address or account is over its
                share; raised on entry, before the block runs.
        """
        self._acquire("a:" + address, "u:" + account if account else "")
        try:
            yield
        finally:
            self._release("a:" + address, "u:" + account if account else "")

    # -- the bookkeeping, under the lock ------------------------------------------------------

    def _acquire(self, address: str, account: str) -> None:
        with self._lock:
            if self._queued[address] >= self.slots or (
                    account and self._queued[account] >= self.slots):
                raise NoHashSlot("share")
            waiter = _Waiter(address, account)
            self._waiters.append(waiter)
            self._count(self._queued, waiter, +1)
            self._grant()
        if waiter.granted.is_set() or waiter.granted.wait(self.wait):
            return
        with self._lock:
            if waiter.granted.is_set():  # granted as the wait ran out: keep it
                return
            self._waiters.remove(waiter)
            self._count(self._queued, waiter, -1)
            self._grant()
        raise NoHashSlot("busy")

    def _release(self, address: str, account: str) -> None:
        with self._lock:
            self._busy -= 1
            self._count(self._held, _Waiter(address, account), -1)
            self._grant()

    def _grant(self) -> None:
        """Give free slots to the longest waiters that are under their share."""
        for waiter in list(self._waiters):
            if self._busy >= self.slots:
                return
            if self._may_take(waiter.address, waiter.account):
                self._waiters.remove(waiter)
                self._count(self._queued, waiter, -1)
                self._take(waiter.address, waiter.account)
                waiter.granted.set()

    def _may_take(self, address: str, account: str) -> bool:
        if self._busy >= self.slots:
            return False
        if self._held[address] >= self._share(address, "a:"):
            return False
        return not account or self._held[account] < self._share(account, "u:")

    def _share(self, key: str, kind: str) -> int:
        """Slots one key may hold: all of them alone, an even split among contenders."""
        contenders = {k for k in (*self._held, *self._queued) if k.startswith(kind)}
        contenders.add(key)
        return max(1, self.slots // len(contenders))

    def _take(self, address: str, account: str) -> None:
        self._busy += 1
        self._count(self._held, _Waiter(address, account), +1)

    @staticmethod
    def _count(counter: Counter[str], waiter: _Waiter, step: int) -> None:
        for key in (waiter.address, waiter.account):
            if key:
                counter[key] += step
                if counter[key] <= 0:
                    del counter[key]


class OncePerWindow:
    """Whether a key was already seen in the current window: one audit row per refused
    address per window, not one per refused request (a flood of refusals must not become
    a flood of rows). Per process; the oldest keys are forgotten past ``max_keys``.
    """

    def __init__(self, window: float, *, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._since: OrderedDict[str, float] = OrderedDict()

    def first(self, key: str) -> bool:
        """True the first time ``key`` is seen in a window (and it starts one)."""
        now = self._clock()
        with self._lock:
            started = self._since.get(key)
            if started is not None and now - started < self.window:
                return False
            self._since[key] = now
            self._since.move_to_end(key)
            while len(self._since) > self.max_keys:
                self._since.popitem(last=False)
            return True

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
share, and an address queues no more waiters than there are slots. The queue itself is
short (as many waiters as slots, by default), so waiting sign-ins hold few of the server's
threads; when it is full, a newcomer from an address with fewer waiters takes the place of
the newest waiter of the address with the most, and a client with a better claim (the
owner's browser, which signed in to the account before) takes the place of a waiter without
one, also of a guess naming its own account. One address flooding therefore gets its share,
and everyone else the rest.

Plain Python and thread-safe: one lock guards the counts, and each waiter waits on its own
event, so a release wakes the one it grants and nobody else.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: how many times longer than the others a client with a better claim (the owner's browser)
#: waits for a slot: its sign-in is worth a thread held a little longer, and while a flood
#: keeps the cores busy, hashing (at a lower CPU priority) turns slots over more slowly
PRIORITY_WAIT = 4


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
    priority: bool = False
    #: woken to be refused: a waiter with a better claim took its place in the queue
    evicted: bool = False
    granted: threading.Event = field(default_factory=threading.Event)


class HashBudget:
    """Slots for argon2id verifications in one process.

    Args:
        slots: how many verifications run at once.
        wait: seconds a request waits for a slot before it is refused.
        max_waiting: how many requests wait at once (default: ``slots``), so that waiting
            sign-ins hold at most that many of the server's threads.
    """

    def __init__(self, slots: int, wait: float, *, max_waiting: int | None = None) -> None:
        if slots < 1 or wait < 0:
            raise ValueError("a hash budget needs at least one slot and a wait of 0 or more")
        self.slots = slots
        self.wait = wait
        self.max_waiting = slots if max_waiting is None else max(1, max_waiting)
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
    def slot(self, *, address: str, account: str, priority: bool = False) -> Iterator[None]:
        """Hold one slot for the block.

        Args:
            address: the client's throttle key (``app.web.client.throttle_key_of``).
            account: the account the request names (normalised username), or ``""``.
            priority: a client with a better claim (a browser that signed in to this
                account before) is served before the others that wait, and takes the
                place of one of them when the queue is full.

        Raises:
            NoHashSlot: no slot within ``wait``, or this address or account is over its
                share; raised on entry, before the block runs.
        """
        address, account = "a:" + address, "u:" + account if account else ""
        self._acquire(_Waiter(address, account, priority))
        try:
            yield
        finally:
            self._release(address, account)

    # -- the bookkeeping, under the lock ------------------------------------------------------

    def _acquire(self, waiter: _Waiter) -> None:
        with self._lock:
            if self._queued[waiter.address] >= self.slots:
                raise NoHashSlot("share")
            if waiter.account and self._queued[waiter.account] >= self.slots:
                # The account's queue is full. A client with a better claim to it (the
                # owner's browser) takes the place of the newest waiter without one, so
                # that guesses naming the account never keep its owner out.
                victim = next(
                    (
                        w
                        for w in reversed(self._waiters)
                        if w.account == waiter.account and not w.priority
                    ),
                    None,
                )
                if not waiter.priority or victim is None:
                    raise NoHashSlot("share")
                self._evict(victim)
            self._waiters.append(waiter)
            self._count(self._queued, waiter, +1)
            self._grant()
            if not waiter.granted.is_set() and len(self._waiters) > self.max_waiting:
                victim = self._displaced_by(waiter)
                if victim is waiter:
                    self._drop(waiter)
                    raise NoHashSlot("busy")
                self._evict(victim)
        waiter.granted.wait(self.wait * (PRIORITY_WAIT if waiter.priority else 1))
        with self._lock:
            if waiter.evicted:
                raise NoHashSlot("share")
            if waiter.granted.is_set():  # granted, perhaps just as the wait ran out
                return
            self._drop(waiter)
            self._grant()
        raise NoHashSlot("busy")

    def _displaced_by(self, newcomer: _Waiter) -> _Waiter:
        """Who leaves a full queue: the newest waiter without priority when a priority
        client comes, else the newest of the address with the most waiters if it has more
        than the newcomer's, else the newcomer itself."""
        if newcomer.priority:
            return next((w for w in reversed(self._waiters) if not w.priority), newcomer)
        longest = max(self._waiters, key=lambda w: (self._queued[w.address], not w.priority))
        if not longest.priority and self._queued[longest.address] > self._queued[newcomer.address]:
            return next(
                w
                for w in reversed(self._waiters)
                if w.address == longest.address and not w.priority
            )
        return newcomer

    def _evict(self, victim: _Waiter) -> None:
        """Take ``victim`` out of the queue and wake it to be refused."""
        self._drop(victim)
        victim.evicted = True
        victim.granted.set()

    def _drop(self, waiter: _Waiter) -> None:
        self._waiters.remove(waiter)
        self._count(self._queued, waiter, -1)

    def _release(self, address: str, account: str) -> None:
        with self._lock:
            self._busy -= 1
            self._count(self._held, _Waiter(address, account), -1)
            self._grant()

    def _grant(self) -> None:
        """Give free slots to the longest waiters that are under their share, those with
        priority first."""
        for waiter in sorted(self._waiters, key=lambda w: not w.priority):
            if self._busy >= self.slots:
                return
            if self._may_take(waiter.address, waiter.account):
                self._drop(waiter)
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

"""Throttle counts in the memory of one Keystile process (no ``KEYSTILE_REDIS_URL``).

``limits``' ``MemoryStorage`` forgets expired windows from a timer thread: 10 ms after a
count it starts a thread that walks every key it holds, and starts another 10 ms after that
one ends while counts keep coming. Under load that is a new thread every 10 ms. Worse, clients
create keys at will (one per username tried, for the per-account limit; one per address), and
the walk grows with them: over 50,000 keys it takes about 107 ms (measured, limits 5.8), is
started again 10 ms later, and holds the interpreter lock that the requests need.

:class:`SweptMemoryStorage` forgets the same way on the request path instead: each count looks
at a few keys in turn, so a count costs the same whatever the number of keys, no thread is
started, and every key is looked at again within a number of counts proportional to the keys
there are (a count adds at most one key; :data:`SweptMemoryStorage.SWEEP_PER_COUNT` are looked
at). Redis, for several instances, expires keys itself.

The hook overridden is ``MemoryStorage``'s private ``__schedule_expiry``; should a release of
``limits`` rename it, the timer comes back and
``tests/unit/web/test_throttle_memory.py`` fails (it counts the threads started).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator

from limits.storage import MemoryStorage

SCHEME = "keystile+memory"


class SweptMemoryStorage(MemoryStorage):
    """``memory://`` without the expiry thread; selected as ``keystile+memory://``."""

    STORAGE_SCHEME = [SCHEME]  # registered with limits' storage registry by its metaclass
    #: keys looked at per count: more than a count can add, so sweeping keeps ahead
    SWEEP_PER_COUNT = 4

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: str) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # the one timer MemoryStorage starts when it is made
        self._round: Iterator[str] = iter(())

    def _MemoryStorage__schedule_expiry(self) -> None:
        """What ``MemoryStorage`` calls before every count (``incr``, ``decr``, the moving and
        sliding windows' ``acquire_*``): here, forget a few expired keys."""
        now = time.time()
        for _ in range(self.SWEEP_PER_COUNT):
            key = next(self._round, None)
            if key is None:  # a new round over the keys there are now
                self._round = iter([*self.events, *self.expirations])
                key = next(self._round, None)
                if key is None:
                    return
            self._forget_expired(key, now)

    def _forget_expired(self, key: str, now: float) -> None:
        """Drop the expired entries of ``key``'s moving window (newest first, as
        ``MemoryStorage`` keeps them) and its counter once its window has passed."""
        with self.locks[key]:
            if events := self.events.get(key):
                live = bisect.bisect_left(events, -now, key=lambda entry: -entry.expiry)
                if live < len(events):
                    self.events[key] = events[:live]
            if not self.events.get(key, True):
                self.events.pop(key, None)
            if self.expirations.get(key, now + 1) <= now:
                # pop, not del: MemoryStorage.get() forgets expired counters without the lock
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
        if key not in self.events and key not in self.expirations:
            self.locks.pop(key, None)

"""Throttle counts in the memory of one Keystile process (no ``KEYSTILE_REDIS_URL``).

``limits``' own ``MemoryStorage`` forgets expired windows from a timer thread: 10 ms after a
count it starts a thread that walks every key it holds, and starts another 10 ms after that
one ends while counts keep coming. Clients create keys at will (one per username tried, for
the per-account limit; one per address), and over 50,000 keys a walk took about 107 ms
(limits 5.8), holding the interpreter lock the requests need.

:class:`BoundedMemoryStorage` is a storage of its own, written against ``limits``' public
storage interface (``Storage`` and ``MovingWindowSupport``, the two abstract classes its
documentation tells custom storages to implement) and registered under its own scheme. It
forgets on the request path instead: each count looks at a few keys in turn, so a count
costs the same whatever the number of keys, no thread is ever started, and every key is
looked at again within a number of counts proportional to the keys there are (a count adds
at most one key; :data:`BoundedMemoryStorage.SWEEP_PER_COUNT` are looked at). Redis, for
several instances, expires keys itself.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from limits.storage import MovingWindowSupport, Storage

SCHEME = "keystile+memory"


@dataclass
class _Window:
    """A moving window's entries (their times, oldest first) and how long each lives."""

    expiry: float
    times: deque[float] = field(default_factory=deque)

    def drop_expired(self, now: float) -> None:
        while self.times and self.times[0] <= now - self.expiry:
            self.times.popleft()


class BoundedMemoryStorage(Storage, MovingWindowSupport):
    """Counters and moving windows in this process; selected as ``keystile+memory://``."""

    STORAGE_SCHEME = [SCHEME]  # registered with limits' storage registry by its metaclass
    #: keys looked at per count: more than a count can add, so sweeping keeps ahead
    SWEEP_PER_COUNT = 4

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._lock = threading.Lock()
        #: fixed-window counters: key -> (count, when it expires)
        self.counters: dict[str, tuple[int, float]] = {}
        #: moving windows: key -> entries
        self.windows: dict[str, _Window] = {}
        self._round: Iterator[str] = iter(())

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    # -- counters (``incr`` is what the once-per-window audit marker uses) ----------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._sweep(now)
            count, expires = self.counters.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + expiry
            self.counters[key] = (count + amount, expires)
            return count + amount

    def get(self, key: str) -> int:
        count, expires = self.counters.get(key, (0, 0.0))
        return count if expires > time.time() else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        _, expires = self.counters.get(key, (0, now))
        return max(expires, now)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            forgotten = len(self.counters) + len(self.windows)
            self.counters.clear()
            self.windows.clear()
            self._round = iter(())
        return forgotten

    def clear(self, key: str) -> None:
        with self._lock:
            self.counters.pop(key, None)
            self.windows.pop(key, None)

    # -- moving windows ---------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Add ``amount`` entries unless the window would hold more than ``limit``; one step
        under the lock, so requests arriving together cannot all pass."""
        if amount > limit:
            return False
        now = time.time()
        with self._lock:
            self._sweep(now)
            window = self.windows.get(key)
            if window is None:
                window = self.windows[key] = _Window(float(expiry))
            window.drop_expired(now)
            if len(window.times) + amount > limit:
                return False
            window.times.extend([now] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the oldest live entry's time, the number of live entries), as ``limits``'
        strategies read it; (now, 0) for an empty window."""
        now = time.time()
        with self._lock:
            window = self.windows.get(key)
            if window is None:
                return now, 0
            window.drop_expired(now)
            if not window.times:
                return now, 0
            return window.times[0], len(window.times)

    # -- forgetting -------------------------------------------------------------------

    def _sweep(self, now: float) -> None:
        """Look at the next few keys of the round (a new round over the keys there are now
        once it ends) and forget what has expired. Called with the lock held."""
        for _ in range(self.SWEEP_PER_COUNT):
            key = next(self._round, None)
            if key is None:
                self._round = iter([*self.windows, *self.counters])
                key = next(self._round, None)
                if key is None:
                    return
            self._forget_expired(key, now)

    def _forget_expired(self, key: str, now: float) -> None:
        window = self.windows.get(key)
        if window is not None:
            window.drop_expired(now)
            if not window.times:
                del self.windows[key]
        counter = self.counters.get(key)
        if counter is not None and counter[1] <= now:
            del self.counters[key]

"""Throttling: how many requests of a kind one client (or one account) may make in a window.

Built on ``limits``' public interface only: a storage made from a URI
(``storage_from_string``), the moving-window strategy's ``hit``, ``test`` and
``get_window_stats``, and the storage's ``incr`` and ``check``. The views call it through
:mod:`app.web.throttle`; the sign-in edge calls it directly, with the same limits and keys,
so a count made on either side is seen by the other.

A limit's setting may hold several windows (``10/minute;60/hour``); a request is refused
when any of them is full. Counting follows what the limit is for: a limit on requests
(:meth:`Throttle.hit`) counts each request it lets through; a limit on failures tests first
(:meth:`Throttle.test`) and counts only once the failure happened (:meth:`Throttle.charge`).
A refused request is counted nowhere.

When the storage fails (Redis unreachable), counting moves to this process's memory
(:class:`~app.services.throttle_memory.BoundedMemoryStorage`): every limit still holds, per
instance, instead of sign-in being either down or unthrottled. The change is logged and
reported once to ``on_storage_change`` (which audits it), and :meth:`Throttle.healthy`
says so for health checks; the shared storage is tried again every
:data:`Throttle.RETRY_SECONDS` and taken back once it answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.services.throttle_memory import SCHEME as MEMORY_SCHEME

log = logging.getLogger(__name__)

#: the first identifier of every storage key by default (Flask-Limiter's key prefix before,
#: kept so counts survive an upgrade of a running site); ``KEYSTILE_REDIS_PREFIX``
PREFIX = "keystile"
#: seconds a Redis connection or answer may take before the storage counts as down
REDIS_TIMEOUT = 1.0


@dataclass(frozen=True)
class Limit:
    """One setting's windows for one kind of request, shortest window first."""

    #: what is limited, e.g. ``auth.login_post:login-address`` (the view and the scope)
    scope: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def of(cls, scope: str, setting: str) -> Limit:
        """Raises ``ValueError`` for a setting ``limits`` cannot parse."""
        return _parsed(scope, setting)


@lru_cache(maxsize=256)
def _parsed(scope: str, setting: str) -> Limit:
    return Limit(scope, tuple(sorted(parse_many(setting))))


@dataclass(frozen=True)
class Window:
    """Where one window of a limit stands for one key (``X-RateLimit-*``)."""

    item: RateLimitItem
    remaining: int
    #: when the window has room again (seconds since the epoch)
    reset_at: float


@dataclass(frozen=True)
class Breach:
    """A refusal: the limit, the client's key and the full windows (at least one)."""

    limit: Limit
    key: str
    full: tuple[Window, ...]

    @property
    def wait(self) -> int:
        """Whole seconds until every full window has room again."""
        return max(0, max(int(w.reset_at - time.time()) for w in self.full))

    @property
    def window(self) -> Window:
        """The full window that lasts longest (what the headers and the page report)."""
        return max(self.full, key=lambda w: w.reset_at)


class Throttle:
    """Counts in one storage, with this process's memory to fall back on."""

    #: seconds between attempts to go back to the shared storage after it failed
    RETRY_SECONDS = 5.0

    def __init__(
        self,
        uri: str = "",
        *,
        enabled: bool = True,
        on_storage_change: Callable[[bool, str], None] | None = None,
        prefix: str = PREFIX,
    ) -> None:
        """
        Args:
            uri: a ``limits`` storage URI (``redis://...``); empty: this process's memory.
            enabled: False counts nothing and refuses nothing (tests of other things).
            on_storage_change: called with (healthy, detail) once when the storage fails
                and once when it is back.
            prefix: the first identifier of every key: deployments that share one Redis
                keep their counts apart by giving each its own.
        """
        self.enabled = enabled
        self.prefix = prefix
        self.shared = bool(uri)
        self._primary = _storage(uri or f"{MEMORY_SCHEME}://")
        self._fallback: Storage | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._on_change = on_storage_change
        self._strategy = MovingWindowRateLimiter(self._primary)

    # -- asking and counting ------------------------------------------------------------

    def test(self, limit: Limit, key: str) -> Breach | None:
        """The full windows of ``limit`` for ``key``, counting nothing."""
        return self.standing(limit, key)[0]

    def standing(self, limit: Limit, key: str) -> tuple[Breach | None, Window | None]:
        """Where the windows of ``limit`` stand for ``key``, counting nothing: the full ones
        (a breach, or None) and the shortest (for the headers; None when disabled). One read
        per window: a window has room while ``get_window_stats`` leaves at least one
        request, as ``MovingWindowRateLimiter.test`` judges it."""
        if not self.enabled:
            return None, None
        ids = self._ids(limit, key)
        windows = [self._window(item, ids) for item in limit.items]
        full = tuple(w for w in windows if w.remaining < 1)
        return (Breach(limit, key, full) if full else None), windows[0]

    def hit(self, limit: Limit, key: str) -> Breach | None:
        """Count one request in every window, shortest first, stopping at the first that is
        full (one atomic step per window: requests arriving together cannot all pass)."""
        if not self.enabled:
            return None
        ids = self._ids(limit, key)
        for item in limit.items:
            if not self._run("hit", item, ids):
                return self._breach(limit, key, [item])
        return None

    def charge(self, limit: Limit, key: str) -> None:
        """Count a failure :meth:`test` let through, in every window."""
        if not self.enabled:
            return
        ids = self._ids(limit, key)
        for item in limit.items:
            self._run("hit", item, ids)

    def window(self, limit: Limit, key: str) -> Window | None:
        """Where the shortest window stands (for the headers of a request let through)."""
        if not self.enabled:
            return None
        return self._window(limit.items[0], self._ids(limit, key))

    def first_refusal_in_window(self, breach: Breach) -> bool:
        """True once per limit, key and window: the refusal that gets an audit row (a flood
        of refusals must not become a flood of rows). Kept in the same storage, so shared
        by every instance on Redis."""
        return self._first(breach.window.item, self._ids(breach.limit, breach.key))

    def first_refusal(self, limit: Limit, key: str) -> bool:
        """:meth:`first_refusal_in_window` for a refusal that is not the throttle's own
        (the hash budget's): once per ``key`` in the window of ``limit``'s first item."""
        return self._first(limit.items[0], self._ids(limit, key))

    def _first(self, item: RateLimitItem, ids: tuple[str, ...]) -> bool:
        marker = f"{self.prefix}/audited/{item.key_for(*ids)}"
        return bool(self._run("incr", marker, item.get_expiry()) == 1)

    def _ids(self, limit: Limit, key: str) -> tuple[str, str, str]:
        """A window's storage key is ``LIMITER/<prefix>/<key>/<scope>/<amount>/<n>/<unit>``."""
        return (self.prefix, key, limit.scope)

    def reset(self) -> None:
        """Forget every count (tests, and the CLI after a false alarm)."""
        self._run("reset")

    # -- the storage's health -----------------------------------------------------------

    @property
    def storage(self) -> Storage:
        """The storage counts go to now (the fallback while the configured one is down)."""
        return self._fallback or self._primary

    def healthy(self) -> bool:
        """Whether counts go to the configured storage (False while on the fallback), asked
        of the storage itself (Redis: a PING) when it is the one in use."""
        if self._fallback is not None:
            self._try_primary(time.time())
            return self._fallback is None
        if self._primary.check():
            return True
        self._fail_over("the storage did not answer a health check")
        return False

    def _run(self, operation: str, *args: Any) -> Any:
        """The strategy's ``hit``, ``test`` or ``get_window_stats``, or the storage's
        ``incr`` or ``reset``, on the storage in use; on the fallback if that fails."""
        if self._fallback is not None:
            self._try_primary(time.time())
        strategy = self._strategy
        try:
            return _call(strategy, operation, args)
        except StorageError as exc:
            if strategy.storage is not self._primary:
                raise
            self._fail_over(f"{type(exc.storage_error).__name__}: {exc.storage_error}")
            return _call(self._strategy, operation, args)

    def _fail_over(self, detail: str) -> None:
        with self._lock:
            if self._fallback is not None:
                return
            self._fallback = _storage(f"{MEMORY_SCHEME}://")
            self._strategy = MovingWindowRateLimiter(self._fallback)
            self._retry_at = time.time() + self.RETRY_SECONDS
        log.error(
            "throttle storage unavailable (%s): counting in this process's memory "
            "until it answers again",
            detail,
        )
        self._report(False, detail)

    def _try_primary(self, now: float) -> None:
        with self._lock:
            if self._fallback is None or now < self._retry_at:
                return
            self._retry_at = now + self.RETRY_SECONDS
        if not self._primary.check():
            return
        with self._lock:
            self._fallback = None
            self._strategy = MovingWindowRateLimiter(self._primary)
        log.warning("throttle storage answers again: counting there")
        self._report(True, "the storage answers again")

    def _report(self, healthy: bool, detail: str) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(healthy, detail)
        except Exception:  # reporting must not turn a refusal into an error
            log.exception("could not report the throttle storage's state")

    def _window(self, item: RateLimitItem, ids: tuple[str, ...]) -> Window:
        reset, remaining = self._run("get_window_stats", item, ids)
        return Window(item, max(0, int(remaining)), float(reset))

    def _breach(self, limit: Limit, key: str, full: Iterable[RateLimitItem]) -> Breach | None:
        ids = self._ids(limit, key)
        windows = tuple(self._window(item, ids) for item in full)
        return Breach(limit, key, windows) if windows else None


def _call(strategy: MovingWindowRateLimiter, operation: str, args: tuple[Any, ...]) -> Any:
    if operation in {"incr", "reset"}:
        return getattr(strategy.storage, operation)(*args)
    item, ids = args
    return getattr(strategy, operation)(item, *ids)


def _storage(uri: str) -> Storage:
    """``limits``' storage for ``uri``; errors wrapped as ``StorageError``, and Redis told
    not to wait longer than :data:`REDIS_TIMEOUT` for a connection or an answer.

    Raises:
        ValueError: a storage that cannot keep moving windows, or an unknown scheme.
    """
    options: dict[str, float | str | bool] = {}
    if uri.startswith("unix://"):  # KEYSTILE_REDIS_URL's socket form; limits names it so
        uri = "redis+" + uri
    if uri.startswith("redis"):
        options = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT}
    try:
        storage = storage_from_string(uri, wrap_exceptions=True, **options)
    except Exception as exc:  # limits' ConfigurationError, or the client library's own
        raise ValueError(f"unusable throttle storage {uri.split('://')[0]}://: {exc}") from exc
    if not isinstance(storage, Storage) or not isinstance(storage, MovingWindowSupport):
        raise ValueError("the throttle storage must support moving windows")
    return storage

"""A stream of password sign-ins against a real server, in a thread, every answer counted:
the background load of the fault tests (a database stopped, an instance killed or
reloaded)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from tests.conftest import PASSWORD, csrf_from
from tests.support.web_client import WebClient


class SignInLoad:
    """One browser after another signs in at ``base`` as ``username`` until stopped: the
    sign-in page, then the form. ``statuses`` counts every answer, ``signed_in`` the
    sign-ins that succeeded, ``bad`` what must never happen (a 503 without
    ``Retry-After``, a trace, a connection error)."""

    def __init__(self, base: str, username: str, password: str = PASSWORD) -> None:
        self.base, self.username, self.password = base, username, password
        self.statuses: Counter[int] = Counter()
        self.signed_in = 0
        self.bad: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            client = WebClient(self.base, timeout=15)
            try:
                page = client.get("/login")
                self._count(page)
                if page.status_code != 200:
                    continue
                resp = client.post(
                    "/login",
                    data={
                        "username": self.username,
                        "password": self.password,
                        "csrf_token": csrf_from(page.text),
                    },
                )
                self._count(resp)
                self.signed_in += resp.status_code == 303
            except httpx.HTTPError as exc:
                self.bad.append(repr(exc))
            finally:
                client.close()

    def _count(self, resp: httpx.Response) -> None:
        self.statuses[resp.status_code] += 1
        if resp.status_code == 503 and "Retry-After" not in resp.headers:
            self.bad.append("503 without Retry-After")
        if "Traceback" in resp.text:
            self.bad.append("a trace in a response")

    def __enter__(self) -> SignInLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def wait_until(check: Callable[[], bool], seconds: float) -> None:
    """Poll ``check`` until it holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds:.0f}s"
        time.sleep(0.1)

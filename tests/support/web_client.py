"""A scripted browser for real servers: cookies kept by name, CSRF tokens read from pages.

Keystile's cookies are ``__Host-`` cookies (``Secure``); the tests speak plain http to
loopback, through a proxy (or as one, to an instance directly) that says the request came
over https (``X-Forwarded-Proto``), so a cookie jar that follows the scheme rules would never
send them back. This one keeps every cookie a response sets and sends them all.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx

from tests.conftest import csrf_from

ORIGIN = "https://localhost"


class WebClient:
    """One browser, talking to ``base`` (nginx, or one instance) unless told another."""

    def __init__(self, base: str, *, origin: str = ORIGIN, timeout: float = 30) -> None:
        self.base = base
        self.origin = origin
        self.cookies: dict[str, str] = {}
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        base: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {"X-Forwarded-Proto": "https", "Origin": self.origin, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = self.http.request(method, (base or self.base) + path, headers=sent, **kwargs)
        self.keep(resp)
        return resp

    def keep(self, resp: httpx.Response) -> None:
        for header in resp.headers.get_list("set-cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def csrf(self, path: str = "/login", *, base: str | None = None) -> str:
        resp = self.get(path, base=base)
        assert resp.status_code == 200, (path, resp.status_code)
        return csrf_from(resp.text)

    def login(self, username: str, password: str, *, base: str | None = None) -> httpx.Response:
        token = self.csrf(base=base)
        return self.post(
            "/login",
            base=base,
            data={"username": username, "password": password, "csrf_token": token},
        )

    def signed_in(self, *, base: str | None = None) -> bool:
        """What ``/api/session`` says (200 or 401; anything else fails the test)."""
        status = self.get("/api/session", base=base).status_code
        assert status in {200, 401}, status
        return status == 200

    def close(self) -> None:
        self.http.close()

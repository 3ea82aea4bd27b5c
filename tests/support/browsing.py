"""Steps a person takes, shared by the end-to-end tests: the password sign-in in a real
browser (Playwright pages), and, for the forward-auth gate through real proxies, a client
that reaches any host name on loopback, the echo upstream's view of a request, and the
password sign-in it makes."""

from __future__ import annotations

import json
import re
import ssl
from typing import Any

import httpx

from tests.conftest import PASSWORD

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ACCOUNT = re.compile(r"/account$")


def sign_in_with_password(page: Any, server: Any, username: str = "alice") -> None:
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(ACCOUNT)


class Loopback(httpx.BaseTransport):
    """Connects every name to 127.0.0.1, with the name as SNI and Host (curl's
    ``--resolve``), so cookies stay with the name the browser would see. Each name has
    connections of its own: nginx and Caddy refuse a request whose Host is not its
    connection's SNI (421) when client certificates are asked for."""

    def __init__(self, verify: ssl.SSLContext) -> None:
        self.verify = verify
        self.by_name: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host
        if name not in self.by_name:
            self.by_name[name] = httpx.HTTPTransport(verify=self.verify)
        direct = httpx.Request(
            request.method,
            request.url.copy_with(host="127.0.0.1"),
            headers=request.headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": name},
        )
        return self.by_name[name].handle_request(direct)

    def close(self) -> None:
        for transport in self.by_name.values():
            transport.close()


def echoed(resp: httpx.Response) -> dict[str, str]:
    """The upstream's view of the request's headers (lower-case names)."""
    assert resp.status_code == 200, (resp.status_code, resp.text[:300])
    return {k.lower(): v for k, v in json.loads(resp.text)["headers"]}


def csrf_token(page: httpx.Response) -> str:
    token = CSRF.search(page.text)
    assert page.status_code == 200 and token, (page.status_code, page.text[:300])
    return token.group(1)


def sign_in(client: httpx.Client, location: str, username: str = "alice") -> httpx.Response:
    """Follow ``location`` to the sign-in page, fill in its password form, and follow the
    answer back to where the gate was asked about (returns that last redirect)."""
    page = client.get(location, follow_redirects=True)
    done = client.post(
        page.url, data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)}
    )
    assert done.status_code == 303 and done.headers["Location"].startswith("/gate/continue?")
    return client.get(done.headers["Location"])

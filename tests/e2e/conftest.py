"""End-to-end fixtures: a real HTTP server running a fresh app, and a real Chromium.

* ``live_server``: werkzeug's threaded server on a free loopback port, serving a new app on
  a temporary SQLite database with origin ``http://localhost:<port>`` (browsers treat
  http://localhost as a secure context, so WebAuthn and ``__Host-`` cookies work). Ready when
  ``/healthz`` answers; shut down and its thread joined afterwards.
* ``browser`` (one per test session), ``context`` and ``page`` (one per test): headless
  Debian Chromium driven by Playwright. Never ``playwright install``: the system Chromium is
  used, and a missing one skips locally but fails in CI (``require``).
* ``authenticators``: CDP virtual authenticators (``WebAuthn.*``) for ``page``, enabled with
  ``enableUI: false`` so that create()/get() never wait for a dialog.
"""

from __future__ import annotations

import contextlib
import http.client
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from app.db import EXTENSION, engine_of
from tests.conftest import make_app, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Playwright's wait for any one step; generous for a loaded CI machine, short enough to
#: fail fast when a ceremony hangs.
STEP_TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)


@dataclass
class LiveServer:
    app: Flask
    port: int
    server: BaseWSGIServer
    thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def db(self) -> Session:
        session: Session = self.app.extensions[EXTENSION]()
        return session

    def cli(self, *args: str) -> Any:
        return self.app.test_cli_runner().invoke(args=list(args))


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Requests are not logged: a failing test's output stays readable."""


def _placeholder_app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def _wait_ready(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        time.sleep(0.02)
    raise RuntimeError(f"live server on port {port} did not become ready")


@contextlib.contextmanager
def serve(tmp_path: Path, **overrides: Any) -> Iterator[LiveServer]:
    """A fresh app behind a real HTTP server; the port is chosen first so the origin is known."""
    server = make_server(
        "127.0.0.1", 0, _placeholder_app, threaded=True, request_handler=_QuietHandler
    )
    port = server.server_port
    app = make_app(
        f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        tmp_path,
        origin=f"http://localhost:{port}",
        **overrides,
    )
    server.app = app
    thread = threading.Thread(
        target=server.serve_forever,
        name=f"live-server-{port}",
        kwargs={"poll_interval": 0.05},
        daemon=True,
    )
    thread.start()
    try:
        _wait_ready(port)
        yield LiveServer(app=app, port=port, server=server, thread=thread)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        engine_of(app).dispose()


@pytest.fixture
def live_server(tmp_path: Path, app_overrides: dict[str, Any]) -> Iterator[LiveServer]:
    with serve(tmp_path, **app_overrides) as live:
        yield live


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
        "Chromium is not installed (apt install chromium)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context()
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


class Authenticators:
    """CDP virtual authenticators of one page (Chrome DevTools Protocol, ``WebAuthn`` domain)."""

    def __init__(self, cdp: Any) -> None:
        self.cdp = cdp
        cdp.send("WebAuthn.enable", {"enableUI": False})
        self.events: list[tuple[str, str]] = []
        cdp.on(
            "WebAuthn.credentialAdded",
            lambda e: self.events.append(("added", e["authenticatorId"])),
        )
        cdp.on(
            "WebAuthn.credentialAsserted",
            lambda e: self.events.append(("asserted", e["authenticatorId"])),
        )

    def add(self, transport: str, **options: Any) -> str:
        """A CTAP 2.1 authenticator: resident keys, user verification, presence simulated."""
        opts = {
            "protocol": "ctap2",
            "ctap2Version": "ctap2_1",
            "transport": transport,
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
            **options,
        }
        result: dict[str, str] = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator", {"options": opts}
        )
        return result["authenticatorId"]

    def remove(self, authenticator_id: str) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": authenticator_id})

    def credentials(self, authenticator_id: str) -> list[dict[str, Any]]:
        result = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
        creds: list[dict[str, Any]] = result["credentials"]
        return creds

    def add_credential(self, authenticator_id: str, credential: dict[str, Any]) -> None:
        self.cdp.send(
            "WebAuthn.addCredential",
            {"authenticatorId": authenticator_id, "credential": credential},
        )

    def set_presence(self, authenticator_id: str, enabled: bool) -> None:
        self.cdp.send(
            "WebAuthn.setAutomaticPresenceSimulation",
            {"authenticatorId": authenticator_id, "enabled": enabled},
        )


@pytest.fixture
def authenticators(context: Any, page: Any) -> Authenticators:
    return Authenticators(context.new_cdp_session(page))


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Poll a condition (for server-side state the page does not show), bounded."""

    def wait(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            time.sleep(0.05)

    return wait

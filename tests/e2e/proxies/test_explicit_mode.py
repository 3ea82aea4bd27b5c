"""Explicit certificate sign-in through each real proxy (``KEYSTILE_CERT_LOGIN=explicit``).

The main host never asks for a certificate; ``cert.localhost`` does. The login page links to
the certificate host, which checks the certificate and sends the browser back to the main
host with a one-time code; no cookie crosses between the hosts (issue 3, "The sign-in flow").
"""

from __future__ import annotations

import html
import re
import subprocess

import pytest

from app.deploy import PROXIES
from tests.conftest import require
from tests.e2e.proxies.conftest import CERT_HOST, Stack, StackSpec

pytestmark = pytest.mark.e2e

_SIGN_IN_LINK = re.compile(r'href="([^"]+)" id="certificate-signin"')


def asks_for_certificate(port: int, server_name: str) -> bool:
    """Whether a TLS handshake with this SNI gets a CertificateRequest (RFC 8446 §4.3.2),
    read from ``openssl s_client -msg``'s trace of the handshake messages."""
    require(
        subprocess.run(["openssl", "version"], capture_output=True).returncode == 0,
        "openssl is not installed",
    )
    trace = subprocess.run(
        [
            "openssl",
            "s_client",
            "-connect",
            f"127.0.0.1:{port}",
            "-servername",
            server_name,
            "-msg",
        ],
        input=b"",
        capture_output=True,
        timeout=15,
        check=False,
    ).stdout
    assert b"Finished" in trace, trace.decode(errors="replace")[-2000:]
    return b"CertificateRequest" in trace


@pytest.mark.parametrize(
    "stack", [StackSpec(proxy, "explicit") for proxy in PROXIES], indirect=True, ids=str
)
def test_certificate_host_carries_the_sign_in_to_the_main_host(stack: Stack) -> None:
    assert not asks_for_certificate(stack.port, "localhost")
    assert asks_for_certificate(stack.port, CERT_HOST)

    with stack.client("self_signed") as browser:
        # The main host shows a link to the certificate host and signs nobody in by itself.
        login = browser.get("/login", params={"next": "/account"})
        assert login.status_code == 200
        assert browser.get("/api/session").status_code == 401
        link = _SIGN_IN_LINK.search(login.text)
        assert link, "no 'Sign in with a certificate' link"
        start = html.unescape(link.group(1))
        assert start.startswith(f"{stack.cert_origin}/certificate/start?")

        hop = stack.on_cert_host(browser, start)
        assert hop.status_code == 303, hop.text
        back = hop.headers["Location"]
        assert back.startswith(f"{stack.origin}/certificate/complete?code=")
        assert "set-cookie" not in hop.headers  # nothing of the certificate host's own

        done = browser.get(back)
        assert done.status_code == 303 and done.headers["Location"] == "/account"
        session = browser.get("/api/session").json()
        assert session["method"] == "certificate"
        assert session["credential_id"] == stack.pins["self_signed"]
        # The code is single use.
        with stack.client() as other:
            assert other.get(back).status_code == 303
            assert other.get("/api/session").status_code == 401

    with stack.client() as no_certificate:
        refused = stack.on_cert_host(no_certificate, start)
        assert refused.status_code == 400
        assert "did not present a client certificate" in refused.text

    # Naming the main host in SNI (no certificate asked for) and the certificate host in
    # Host borrows nothing: Keystile sees no certificate (nginx, HAProxy: 400) or the proxy
    # answers 421 Misdirected Request (Apache, Caddy).
    with stack.client("self_signed") as browser:
        path = start.removeprefix(stack.cert_origin)
        mixed = browser.get(path, headers={"Host": f"{CERT_HOST}:{stack.port}"})
        assert mixed.status_code in (400, 421), mixed.status_code

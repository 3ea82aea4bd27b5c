"""Certificate sign-in through each real proxy to gunicorn on a unix socket.

``keystile proxy-config PROXY --upstream unix:PATH`` and gunicorn's ``--bind unix:PATH``,
with ``KEYSTILE_TRUSTED_PROXIES=unix`` as the configuration's header says: gunicorn reports
the peer of a unix socket connection as an empty address, which ``unix`` trusts. The socket
file replaces the loopback address as what keeps everybody but the proxy out, so the proxy's
removal of client-sent certificate headers matters exactly as much as on loopback.
"""

from __future__ import annotations

import pytest

from app.deploy import PROXIES
from app.web.auth_state import COOKIE
from tests.e2e.proxies.conftest import Stack, StackSpec
from tests.support.proxy_matrix import PINNED, SUCCESS, forged_headers, run_table

pytestmark = pytest.mark.e2e

STACKS = [StackSpec(proxy, "pinned", upstream="unix") for proxy in PROXIES]
#: The attempts of the loopback table whose outcome depends on the proxy alone: what it
#: forwards, removes and says about the client (X-Forwarded-For, -Proto, X-Request-Id).
THROUGH_THE_PROXY = {
    case: PINNED[case]
    for case in (
        "expired certificate (pinned)",
        "certificate of another CA, not pinned",
        "no certificate",
        "own format's headers forged through the proxy",
        "other formats' headers forged through the proxy",
        "own format's headers forged beside another certificate",
    )
}


@pytest.mark.parametrize("stack", STACKS, indirect=True, ids=str)
def test_pinned_certificate_signs_in(stack: Stack) -> None:
    assert stack.app_socket is not None and stack.app_socket.is_socket()
    with stack.client("self_signed") as client:
        login = client.get("/login")
        assert login.status_code == 303, login.text
        assert login.headers["Location"] == "/account"
        assert COOKIE in client.cookies
        session = client.get("/api/session").json()
    assert session["method"] == "certificate"
    assert session["credential_id"] == stack.pins["self_signed"]


@pytest.mark.parametrize("stack", STACKS, indirect=True, ids=str)
def test_what_the_proxy_forwards_and_removes(stack: Stack) -> None:
    run_table(stack, THROUGH_THE_PROXY)

    # The control: whatever opens the socket is trusted, as the proxy's own address is on
    # loopback, so a forgery sent straight to it is believed. That is why only the proxy's
    # (and the app server's) user may open the socket file.
    before = stack.last_audit_id()
    with stack.app_client() as straight:
        page = straight.get("/login", headers=forged_headers(stack, "own"))
    assert page.status_code == 303, page.text
    rows = [row for row in stack.audit_after(before) if row.method == "certificate"]
    assert [(row.tag, row.credential_id) for row in rows] == [(SUCCESS, stack.pins["self_signed"])]

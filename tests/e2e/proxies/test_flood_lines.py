"""The reference configurations' request-rate lines (issue 17): the global rate on password
sign-ins from browsers without a device token (on by default), and the optional per-address
lines, uncommented. The proxy refuses what exceeds them itself, with 429 and never a 5xx,
while Keystile's own answers pass through unchanged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.proxies.conftest import Stack, StackSpec, Tls
from tests.e2e.proxies.gate_stack import WIKI, deploy

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "stack",
    [StackSpec(proxy, "pinned", rate_limited=True) for proxy in ("nginx", "haproxy")],
    indirect=True,
    ids=str,
)
def test_a_burst_of_guesses_is_refused_by_the_proxy(stack: Stack) -> None:
    answers: Counter[int] = Counter()
    with stack.client() as client:
        page = client.get("/login")
        assert page.status_code == 200
        for _ in range(40):
            # no CSRF token: Keystile answers 400 for each one that reaches it
            answers[
                client.post("/login", data={"username": "alice", "password": "wrong"}).status_code
            ] += 1
        assert client.get("/login").status_code == 200  # pages are not limited
    assert set(answers) == {400, 429}, answers
    assert answers[400] >= 15 and answers[429] >= 10, answers


#: a browser that signed in to an account before holds this cookie (app.web.devices)
_DEVICE = {"__Host-keystile-device": "not-checked-by-the-proxy"}


@pytest.mark.parametrize(
    "stack",
    [StackSpec(proxy, "pinned", login_rate=3) for proxy in ("nginx", "haproxy")],
    indirect=True,
    ids=str,
)
def test_sign_ins_beyond_the_login_rate_are_refused_by_the_proxy_unless_a_device_cookie_comes(
    stack: Stack,
) -> None:
    """``--login-rate``, on by default: password sign-ins from browsers without a device
    token, from every address together, beyond the rate get the proxy's own short 429 page;
    a request carrying a device cookie (which Keystile checks) always reaches Keystile."""
    guess = {"username": "alice", "password": "wrong"}
    answers: Counter[int] = Counter()
    refusal: httpx.Response | None = None
    with stack.client() as client:
        assert client.get("/login").status_code == 200  # a session cookie in the jar
        for _ in range(30):
            # no CSRF token: Keystile answers 400 for each one that reaches it
            answer = client.post("/login", data=guess)
            answers[answer.status_code] += 1
            refusal = answer if answer.status_code == 429 else refusal
        assert set(answers) == {400, 429}, answers
        assert answers[429] >= 15, answers
        assert refusal is not None
        assert refusal.headers["Retry-After"] == "2"
        assert refusal.headers["Content-Security-Policy"] == "default-src 'none'"
        assert refusal.headers["Content-Type"].startswith("text/html")
        assert "<h1>Busy</h1>" in refusal.text and 'name="csrf_token"' not in refusal.text

        # the rate is still spent, and a browser holding a device cookie (after the session
        # cookie, and alone) is let through every time
        client.cookies.update(_DEVICE)
        known = Counter(client.post("/login", data=guess).status_code for _ in range(10))
        assert known == Counter({400: 10}), known
        assert client.get("/login").status_code == 200  # pages are not limited
    with stack.client() as alone:
        alone.cookies.update(_DEVICE)
        assert alone.post("/login", data=guess).status_code == 400


@pytest.mark.parametrize("proxy", ["nginx", "haproxy", "traefik"])
def test_the_login_rate_of_a_gate_leaves_the_protected_sites_own_sign_in_alone(
    proxy: str, tls: Tls, tmp_path: Path
) -> None:
    """Rendered with ``--protect`` (Traefik only so): Keystile's own sign-ins beyond the
    rate are refused by the proxy, a device cookie still passes, and a protected host's own
    ``POST /login`` is not counted nor refused: it goes to the gate as any request there."""
    guess = {"username": "alice", "password": "wrong"}
    with deploy(proxy, tls, tmp_path, login_rate=3) as deployed, deployed.client() as client:
        assert client.get("/login").status_code == 200
        answers = Counter(client.post("/login", data=guess).status_code for _ in range(30))
        assert set(answers) == {400, 429} and answers[429] >= 15, answers
        refusal = client.post("/login", data=guess)
        assert refusal.status_code == 429 and int(refusal.headers["Retry-After"]) >= 1
        on_the_site = Counter(
            client.post(deployed.url(WIKI, "/login"), data=guess).status_code for _ in range(10)
        )
        # not signed in there: the gate's answer (a client that does not ask for HTML gets
        # 401, a browser a redirect), never the proxy's 429
        assert len(on_the_site) == 1 and set(on_the_site) <= {302, 303, 401}, on_the_site
        client.cookies.update(_DEVICE)
        known = Counter(client.post("/login", data=guess).status_code for _ in range(10))
        assert known == Counter({400: 10}), known

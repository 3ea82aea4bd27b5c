"""The forward-auth gate behind nginx, Caddy, Traefik and HAProxy, each running the
configuration ``keystile proxy-config PROXY --protect HOST=UPSTREAM`` prints (issue 12).

The deployment is ``tests.e2e.proxies.gate_stack``'s: Keystile on ``localhost``, and
``wiki.test`` and ``tools.example`` protected in front of ``keystile dev echo``. The client
connects every name to 127.0.0.1 with the name as SNI and Host, as a browser with a resolver
entry would.

One deployment per proxy (module scope): tests that end sessions sign in again on their own;
the test that stops Keystile starts it again before it ends.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from app.deploy import GATE_PROXIES
from app.web.auth_state import COOKIE
from tests.e2e.proxies.conftest import Tls
from tests.e2e.proxies.gate_stack import TOOLS, WIKI, Deployment, deploy
from tests.support.browsing import csrf_token, echoed, sign_in

pytestmark = pytest.mark.e2e

NAVIGATE = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
XHR = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
#: Every spelling of a forged identity that CGI, WSGI or PHP would read as REMOTE_USER.
FORGED = {
    "Remote-User": "admin",
    "Remote_User": "admin",
    "Remote.User": "admin",
    "Remote-Groups": "admins",
    "Remote-Auth-Strength": "hardware-key",
}


@pytest.fixture(scope="module", params=GATE_PROXIES)
def deployment(
    request: pytest.FixtureRequest, tls: Tls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    proxy: str = request.param
    with deploy(proxy, tls, tmp_path_factory.mktemp(f"gate-{proxy}")) as deployed:
        yield deployed


def test_a_browser_signs_in_once_for_both_hosts(deployment: Deployment) -> None:
    wanted = deployment.url(WIKI, "/page?x=1")
    with deployment.client() as browser:
        first = browser.get(wanted, headers=NAVIGATE)
        assert first.status_code == 302, first.text[:200]
        location = first.headers["Location"]
        assert location.startswith(f"{deployment.origin}/gate/continue?")
        assert parse_qs(urlsplit(location).query) == {"next": [wanted]}
        to_host = sign_in(browser, location)
        assert to_host.status_code == 303
        assert to_host.headers["Location"].startswith(deployment.url(WIKI, "/.keystile/handoff?"))
        landed = browser.get(to_host.headers["Location"])
        assert landed.status_code == 303 and landed.headers["Location"] == wanted
        assert browser.cookies.get("__Host-keystile-gate", domain=WIKI)
        seen = echoed(browser.get(wanted, headers={**NAVIGATE, **FORGED}))
        assert seen["remote-user"] == "alice"
        assert seen["remote-auth-method"] == "password"
        assert seen["remote-auth-strength"] == "password"
        assert seen.get("remote-groups", "") == ""  # alice is in no group
        assert "remote_user" not in seen and "remote.user" not in seen
        # The other host: no page, through Keystile and back with a cookie of its own.
        other = deployment.url(TOOLS, "/docs/")
        hop = browser.get(other, headers=NAVIGATE)
        assert hop.status_code == 302
        code = browser.get(hop.headers["Location"])
        assert code.headers["Location"].startswith(deployment.url(TOOLS, "/.keystile/handoff?"))
        assert browser.get(code.headers["Location"]).headers["Location"] == other
        assert echoed(browser.get(other))["remote-user"] == "alice"


def test_a_hardware_key_rule_sends_a_password_user_to_step_up(deployment: Deployment) -> None:
    with deployment.client() as browser:
        first = browser.get(deployment.url(WIKI, "/"), headers=NAVIGATE)
        landed = browser.get(sign_in(browser, first.headers["Location"]).headers["Location"])
        assert echoed(browser.get(landed.headers["Location"]))["remote-user"] == "alice"
        step = browser.get(deployment.url(WIKI, "/admin/"), headers=NAVIGATE)
        assert step.status_code == 302
        assert step.headers["Location"].startswith(f"{deployment.origin}/login?")
        query = parse_qs(urlsplit(step.headers["Location"]).query)
        assert query["reauth"] == ["1"] and query["need"] == ["hardware_key"]
        (then,) = query["next"]
        assert parse_qs(urlsplit(then).query) == {"next": [deployment.url(WIKI, "/admin/")]}


@pytest.mark.parametrize("headers", [NAVIGATE, XHR], ids=["browser", "api"])
def test_a_pinned_certificate_passes_with_no_page_and_no_cookie(
    deployment: Deployment, headers: dict[str, str]
) -> None:
    with deployment.client("self_signed") as curl:
        seen = echoed(curl.get(deployment.url(WIKI, "/api/items"), headers={**headers, **FORGED}))
        assert seen["remote-user"] == "alice"
        assert seen["remote-auth-method"] == "certificate"
        assert seen["remote-auth-strength"] == "certificate"
        assert "remote_user" not in seen and "remote.user" not in seen
        assert not curl.cookies
        # The site itself never sees a certificate header.
        assert not set(map(str.lower, deployment.forged_certificate())) & set(seen)


def test_no_forged_identity_reaches_a_bypass_rule(deployment: Deployment) -> None:
    with deployment.client() as anonymous:
        seen = echoed(anonymous.get(deployment.url(WIKI, "/public/logo.png"), headers=FORGED))
    assert not {"remote-user", "remote_user", "remote.user", "remote-groups"} & {
        name for name, value in seen.items() if value
    }


def test_an_api_client_without_credentials_gets_401(deployment: Deployment) -> None:
    with deployment.client() as xhr:
        resp = xhr.get(deployment.url(WIKI, "/api/items"), headers=XHR)
    assert resp.status_code == 401


def test_a_forged_certificate_header_signs_no_one_in(deployment: Deployment) -> None:
    with deployment.client() as forger:
        resp = forger.get(
            deployment.url(WIKI, "/api/items"), headers={**XHR, **deployment.forged_certificate()}
        )
    assert resp.status_code == 401


def test_hop_by_hop_tricks_on_forwarded_headers_gain_nothing(deployment: Deployment) -> None:
    """The client names the proxy's own headers in Connection and sends values pointing at
    the bypass rule and at the other host: the check still sees the real request."""
    tricks = {
        "Connection": "keep-alive, X-Forwarded-Host, X-Forwarded-Uri, X-Forwarded-Method, "
        "X-Forwarded-Proto, X-Original-URL, X-Original-Method",
        "X-Forwarded-Uri": "/public/x",
        "X-Forwarded-Host": TOOLS,
        "X-Forwarded-Method": "OPTIONS",
        "X-Forwarded-Proto": "http",
        "X-Original-URL": deployment.url(WIKI, "/public/x"),
        "X-Original-Method": "GET",
    }
    with deployment.client() as anonymous:
        resp = anonymous.get(deployment.url(WIKI, "/private"), headers={**XHR, **tricks})
        assert resp.status_code == 401
    with deployment.client("self_signed") as curl:
        resp = curl.get(deployment.url(WIKI, "/admin/"), headers={**XHR, **tricks})
        assert resp.status_code in (401, 403)


@pytest.mark.parametrize(("authority", "host"), [(WIKI, "localhost"), ("localhost", WIKI)])
def test_an_absolute_form_target_never_reaches_the_site_unchecked(
    deployment: Deployment, authority: str, host: str
) -> None:
    """``GET https://A/ HTTP/1.1`` with ``Host: B``: whichever name the proxy goes by, the
    site is reached only through the check (RFC 9112 §3.2.2 says the target wins)."""
    conn = http.client.HTTPSConnection(
        "localhost", deployment.port, timeout=15, context=deployment.tls.trust()
    )
    try:
        conn.putrequest("GET", deployment.url(authority, "/page"), skip_host=True)
        conn.putheader("Host", f"{host}:{deployment.port}")
        conn.putheader("Accept", "application/json")
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert not (resp.status == 200 and b'"headers"' in body), (resp.status, body[:200])


@pytest.mark.parametrize(
    "target",
    [
        "/%2e%2e/admin/",
        "/a%2fb",
        "/%252e/",
        "/public/..%2f..%2fadmin/",
        "/public/%00",
        "/public%5c..%5c",
    ],
)
def test_a_malformed_uri_is_never_a_200(deployment: Deployment, target: str) -> None:
    with deployment.client("self_signed") as curl:
        resp = curl.get(deployment.url(WIKI, target))
    assert resp.status_code != 200 and resp.status_code < 500


@pytest.mark.parametrize(
    "cookie",
    [
        f"{COOKIE}=%ZZ%00",
        f"__Host-keystile-gate={'A' * 5000}",
        f'__Host-keystile-gate="unterminated; {COOKIE}=; a=b=c',
        "__Host-keystile-gate=' OR 1=1 --",
    ],
)
def test_a_malformed_cookie_is_never_a_200(deployment: Deployment, cookie: str) -> None:
    with deployment.client() as browser:
        resp = browser.get(deployment.url(WIKI, "/page"), headers={**XHR, "Cookie": cookie})
    assert resp.status_code in (400, 401, 431), resp.status_code


def test_sign_out_everywhere_ends_access_on_every_host(deployment: Deployment) -> None:
    with deployment.client() as browser:
        for host in (WIKI, TOOLS):
            first = browser.get(deployment.url(host, "/"), headers=NAVIGATE)
            # Sign in for the first host; the second is handed a code at once.
            hop = (
                sign_in(browser, first.headers["Location"])
                if host == WIKI
                else browser.get(first.headers["Location"])
            )
            landed = browser.get(hop.headers["Location"])
            assert echoed(browser.get(landed.headers["Location"]))["remote-user"] == "alice"
        page = browser.get("/account")
        done = browser.post("/account/sessions/end-all", data={"csrf_token": csrf_token(page)})
        assert done.status_code == 303
        for host in (WIKI, TOOLS):
            assert browser.get(deployment.url(host, "/"), headers=NAVIGATE).status_code == 302
            assert browser.get(deployment.url(host, "/"), headers=XHR).status_code == 401


def test_with_keystile_stopped_the_proxy_denies(deployment: Deployment) -> None:
    deployment.keystile.stop()
    try:
        with deployment.client("self_signed") as curl:
            for target in ("/public/x", "/page"):
                resp = curl.get(deployment.url(WIKI, target), headers=FORGED)
                assert resp.status_code >= 500, (target, resp.status_code)
                assert "remote-user" not in resp.text.lower()
    finally:
        deployment.restart_keystile()

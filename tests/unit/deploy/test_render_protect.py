"""``keystile proxy-config nginx --protect HOST=UPSTREAM``: each site behind the gate, in
nginx's rendering (every proxy's: test_protect.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from app.deploy import DeployError, ProxyOptions, render
from app.services.gate import HEADERS
from tests.conftest import require
from tests.e2e.proxies import servers

SECRET = "c2VjcmV0LWJldHdlZW4tcHJveHktYW5kLWFwcA"
BASE = {
    "listen": "0.0.0.0:443",
    "upstream": "127.0.0.1:8000",
    "tls_cert": "/etc/keystile/tls/server.crt",
    "tls_key": "/etc/keystile/tls/server.key",
}
SITES = ("wiki.example.com=127.0.0.1:3000", "tools.example.org=[::1]:3001")


def rendered(**changes: object) -> str:
    return render(ProxyOptions.parse("nginx", **{**BASE, "protect": SITES, **changes}))


def block_of(text: str, host: str) -> str:
    start = text.index(f"server_name {host};")
    end = text.find("\n    server {", start)
    return text[start : end if end > 0 else None]


def locations(block: str) -> dict[str, str]:
    found = re.findall(r"\n        location ([^{]+) \{\n(.*?)\n        \}", block, re.S)
    return {name.strip(): body for name, body in found}


def test_each_site_gets_a_server_that_checks_every_request() -> None:
    text = rendered()
    for host, upstream in (
        ("wiki.example.com", "127.0.0.1:3000"),
        ("tools.example.org", "[::1]:3001"),
    ):
        where = locations(block_of(text, host))
        assert set(where) == {
            "/",
            "= /.keystile/handoff",
            "= /.keystile-check",
            "@keystile_sign_in",
        }
        body = where["/"]
        assert "auth_request /.keystile-check;" in body
        assert f"proxy_pass http://{upstream};" in body
        for header in HEADERS:
            # always set, from the gate's answer: a client's own value never passes
            assert re.search(rf"\n *proxy_set_header {header} \$keystile_\w+;", body)
        assert "$remote_user" not in body  # nginx's own variable (basic auth)
        assert 'proxy_set_header X-SSL-Client-Cert "";' in body
        check = where["= /.keystile-check"]
        assert "internal;" in check and "proxy_pass_request_body off;" in check
        assert "proxy_pass http://127.0.0.1:8000/api/authz/auth-request;" in check
        assert "X-Original-URL $scheme://$http_host$request_uri;" in check
        assert "X-SSL-Client-Cert $ssl_client_escaped_cert;" in check
        assert "proxy_pass http://127.0.0.1:8000;" in where["= /.keystile/handoff"]
        assert "return 302 $keystile_location;" in where["@keystile_sign_in"]


def test_the_shared_secret_goes_to_keystile_never_to_the_site() -> None:
    where = locations(block_of(rendered(secret=SECRET), "wiki.example.com"))
    assert SECRET in where["= /.keystile-check"] and SECRET in where["= /.keystile/handoff"]
    assert SECRET not in where["/"]


def test_without_protect_nothing_changes() -> None:
    plain = render(ProxyOptions.parse("nginx", **BASE))
    assert "auth_request" not in plain and "--protect" not in plain


@pytest.mark.parametrize(
    ("proxy", "changes", "message"),
    [
        ("apache", {}, "apache is not rendered as a gate"),
        ("nginx", {"protect": ("wiki.example.com",)}, "HOST=UPSTREAM"),
        ("nginx", {"protect": ("wiki example=127.0.0.1:1",)}, "not a DNS host name"),
        ("nginx", {"protect": ("wiki.example.com=127.0.0.1",)}, "HOST:PORT"),
        (
            "nginx",
            {"protect": ("a.example.com=127.0.0.1:1", "a.example.com=127.0.0.1:2")},
            "protected twice",
        ),
        (
            "nginx",
            {"mode": "explicit", "cert_host": "wiki.example.com"},
            "is Keystile's certificate host",
        ),
    ],
)
def test_bad_protect_options(proxy: str, changes: dict[str, object], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        ProxyOptions.parse(proxy, **{**BASE, "protect": SITES, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("upstream", ["127.0.0.1:8000", "unix:/run/keystile/app.sock"])
def test_nginx_accepts_the_configuration(tmp_path: Path, upstream: str) -> None:
    require(servers.binary("nginx") is not None, "nginx is not installed (apt install nginx)")
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "nginx.conf"
    config.write_text(
        rendered(
            listen="127.0.0.1:1",
            upstream=upstream,
            tls_cert=str(cert),
            tls_key=str(key),
            prefix=str(tmp_path),
        )
    )
    result = subprocess.run(
        [servers.binary("nginx") or "nginx", "-t", "-c", str(config), "-p", f"{tmp_path}/"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr

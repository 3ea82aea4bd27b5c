"""``--protect HOST=UPSTREAM``: the forward-auth gate's sites in each proxy's configuration.

The real proxies run these configurations in tests/e2e/proxies/test_forward_auth_proxies.py;
here the options are checked, and each rendering for the lines that keep a client from
forging an identity and that send the check to the right endpoint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app.deploy import GATE_PROXIES, DeployError, ProxyOptions, render
from app.deploy.render import GATE, HAPROXY_LUA, headers_for

EXAMPLE: dict[str, Any] = {
    "listen": "0.0.0.0:443",
    "upstream": "127.0.0.1:8000",
    "tls_cert": "/etc/keystile/tls/server.pem",
    "tls_key": "/etc/keystile/tls/server.pem",
}
SITES = ["wiki.example.com=127.0.0.1:3000", "tools.example.org=192.0.2.7:8080"]


def rendered(proxy: str, **changes: Any) -> str:
    return render(ProxyOptions.parse(proxy, **{**EXAMPLE, "protect": SITES, **changes}))


@pytest.mark.parametrize(
    ("proxy", "changes", "message"),
    [
        ("nginx", {"protect": ["wiki.example.com"]}, "expected HOST=UPSTREAM"),
        ("nginx", {"protect": ["=127.0.0.1:3000"]}, "expected HOST=UPSTREAM"),
        ("nginx", {"protect": ["wiki.example.com="]}, "expected HOST=UPSTREAM"),
        ("nginx", {"protect": ["wiki example.com=127.0.0.1:3000"]}, "is not a DNS host name"),
        ("nginx", {"protect": ["*.example.com=127.0.0.1:3000"]}, "is not a DNS host name"),
        ("nginx", {"protect": ["wiki.example.com;x=127.0.0.1:3000"]}, "is not a DNS host name"),
        ("nginx", {"protect": ["10.0.0.1=127.0.0.1:3000"]}, "is not a DNS host name"),
        ("nginx", {"protect": ["wiki.example.com=127.0.0.1"]}, "must be HOST:PORT"),
        ("nginx", {"protect": ["wiki.example.com=127.0.0.1:0"]}, "is not a TCP port"),
        ("nginx", {"protect": ["wiki.example.com=http://127.0.0.1:3000"]}, "must be HOST:PORT"),
        ("nginx", {"protect": ["wiki.example.com=127.0.0.1:3000;"]}, "is not a TCP port"),
        ("nginx", {"protect": ["wiki.example.com=127.0.0.1:3000 { }"]}, "is not a TCP port"),
        (
            "caddy",
            {"protect": ["Wiki.example.com=127.0.0.1:1", "wiki.example.com=127.0.0.1:2"]},
            "wiki.example.com is protected twice",
        ),
        (
            "nginx",
            {
                "mode": "explicit",
                "cert_host": "cert.example.com",
                "protect": ["cert.example.com=127.0.0.1:1"],
            },
            "Keystile's certificate host",
        ),
        ("apache", {}, "apache is not rendered as a gate"),
        ("traefik", {"protect": []}, "--protect HOST=UPSTREAM"),
        ("traefik", {"mode": "explicit", "cert_host": "cert.example.com"}, "--mode explicit"),
        ("traefik", {"upstream": "unix:/run/keystile/app.sock"}, "loopback HOST:PORT only"),
        ("haproxy", {"mode": "explicit", "cert_host": "cert.example.com"}, "--mode auto"),
    ],
)
def test_bad_protect_options_are_named(proxy: str, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DeployError, match=re.escape(message)):
        ProxyOptions.parse(proxy, **{**EXAMPLE, "protect": SITES, **changes})


@pytest.mark.parametrize("proxy", GATE_PROXIES)
def test_every_site_is_checked_and_gets_the_hand_off_path(proxy: str) -> None:
    text = rendered(proxy)
    check = GATE.auth_request if proxy == "nginx" else GATE.forward_auth
    assert re.search(rf"127\.0\.0\.1:8000\s*(\{{\s*# .*\n\s*uri )?{check}", text), check
    assert GATE.handoff in text
    for site in ("wiki.example.com", "tools.example.org"):
        assert site in text
    for upstream in ("127.0.0.1:3000", "192.0.2.7:8080"):
        assert upstream in text
    for name in GATE.identity:
        assert name in text
    assert "#   https://wiki.example.com -> http://127.0.0.1:3000\n" in text
    assert "--protect wiki.example.com=127.0.0.1:3000 --protect tools.example.org=" in text


def test_nginx_copies_every_identity_header_and_redirects_only_navigations() -> None:
    text = rendered("nginx")
    site = text.split("server_name wiki.example.com;")[1].split("location = ")[0]
    for number, name in enumerate(GATE.identity, 1):
        variable = "$upstream_http_" + name.lower().replace("-", "_")
        assert f"auth_request_set $keystile_{number} {variable};" in site
        assert f"proxy_set_header {name} $keystile_{number};" in site
    assert "underscores_in_headers off;" in site and "ignore_invalid_headers on;" in site
    # The site never receives a certificate header, of any format.
    for name in headers_for(ProxyOptions.parse("nginx", **EXAMPLE)).every:
        assert f'proxy_set_header {name} "";' in site
    assert '"~*^xmlhttprequest\\|" 0;' in text and "return 401;" in text


def test_caddy_removes_every_spelling_before_the_check() -> None:
    text = rendered("caddy")
    site = text.split("https://wiki.example.com:443 {")[1]
    for spelling in ("Remote-*", "Remote_*", "Remote.*"):
        assert f"\trequest_header -{spelling}\n" in site
    assert "uri /api/authz/forward-auth?\n" in site
    assert "copy_headers " + " ".join(GATE.identity) + "\n" in site
    assert (
        "header_up X-SSL-Client-Cert-DER {http.request.tls.client.certificate_der_base64}" in site
    )
    assert "mode request" in site


def test_haproxy_strips_identity_before_the_check_and_fails_closed() -> None:
    text = rendered("haproxy")
    assert f"lua-load {HAPROXY_LUA}\n" in text and Path(HAPROXY_LUA).is_file()
    strip = text.index("http-request del-header ^remote[-_.] -m reg\n")
    check = text.index("http-request lua.keystile_gate http://127.0.0.1:8000/api/authz/")
    deny = text.index(
        "http-request deny deny_status 500 if protected !keystile_handoff !keystile_allowed\n"
    )
    backend = text.index("use_backend protected-1 if protected_1 !keystile_handoff\n")
    assert strip < check < deny < backend


def test_traefik_chains_the_certificate_before_the_check() -> None:
    text = rendered("traefik")
    assert "aliasHeadersStrategy: delete" in text
    assert (
        "middlewares: [keystile-certificate, keystile-headers, keystile-gate, "
        "keystile-site-headers]"
    ) in text
    assert "trustForwardHeader: true" in text and "preserveLocationHeader: true" in text
    assert 'rule: "Host(`tools.example.org`) && Path(`/.keystile/handoff`)"' in text
    assert "clientAuthType: RequestClientCert" in text
    assert 'filename: "/var/lib/keystile/traefik/traefik.yml"' in text

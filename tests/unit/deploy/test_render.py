"""What every rendered configuration must say, checked on the text of each one.

The real proxies run these configurations in tests/e2e/proxies; here every combination of
proxy, mode, CA and shared secret is checked quickly for the rules that make forwarded
certificates trustworthy (docs/proxies.md, threat model A): no client-sent certificate
header of any format survives, the proxy's own headers carry nothing but the certificate of
the connection and its verdict, and only the certificate host asks for a certificate.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.deploy import PROXIES, ProxyOptions, paired_settings, render
from app.deploy.render import display_name
from app.proxy import FORMATS, all_known_certificate_headers, get_adapter

SECRET = "c2VjcmV0LWJldHdlZW4tcHJveHktYW5kLWFwcA"
SOCKET = "/run/keystile/app.sock"
EXPLICIT = {"mode": "explicit", "cert_host": "cert.login.example.org"}
VARIANTS: dict[str, dict[str, Any]] = {
    "auto": {},
    "ca": {"client_ca": "/etc/keystile/tls/client-ca.pem"},
    "explicit": EXPLICIT,
    "secret": {"secret": SECRET},
    "unix": {"upstream": f"unix:{SOCKET}"},
    "unix-explicit": {"upstream": f"unix:{SOCKET}", **EXPLICIT},
}
#: Where each grammar starts a block that terminates TLS and forwards requests.
BLOCK = {
    "nginx": r"\n    server \{",
    "apache": r"\n<VirtualHost ",
    "haproxy": r"\nfrontend (?!by-sni)",
    "caddy": r"\nhttps://",
}
#: A directive after which the client's value of a header is gone. nginx's proxy_set_header
#: and Caddy's header_up replace it (with nothing, for nginx's "" and Caddy's "-"); Apache
#: and HAProxy must remove it outright, because some of their sets are conditional.
OVERRIDES = {
    "nginx": r"\n *proxy_set_header {}[ ;]",
    "apache": r"\n *RequestHeader unset {}\n",
    "haproxy": r"\n *http-request del-header {}\n",
    "caddy": r"\n\t*header_up -?{}[ \n]",
}
#: How each grammar sets a header, and what the proxy may put in its own headers.
SETS = {
    "nginx": r"proxy_set_header {} (.+);",
    "apache": r"RequestHeader set {} (.+)",
    "haproxy": r"http-request set-header {} (.+)",
    "caddy": r"header_up {} (.+)",
}
OWN = {
    "nginx": {
        "X-SSL-Client-Cert": "$ssl_client_escaped_cert",
        "X-SSL-Client-Verify": "$ssl_client_verify",
    },
    "apache": {
        "X-SSL-Client-Cert": '"%{SSL_CLIENT_CERT}s"',
        "X-SSL-Client-Verify": '"%{SSL_CLIENT_VERIFY}s"',
    },
    "haproxy": {
        "X-SSL-Client-Used": "%[ssl_c_used]",
        "X-SSL-Client-Verify": "%[ssl_c_verify]",
        "X-SSL-Client-DER": "%[ssl_c_der,base64] if { ssl_c_used }",
        "X-SSL-Client-Chain-DER": "%[ssl_c_chain_der,base64] if { ssl_c_used }",
    },
    "caddy": {"X-SSL-Client-Cert-DER": "{http.request.tls.client.certificate_der_base64}"},
}
#: How each grammar names the app server: on loopback TCP, and on a unix socket.
UPSTREAM = {
    "127.0.0.1:8000": {
        "nginx": "proxy_pass http://127.0.0.1:8000;",
        "apache": 'ProxyPass "/" "http://127.0.0.1:8000/"',
        "haproxy": "server app 127.0.0.1:8000",
        "caddy": "reverse_proxy 127.0.0.1:8000 {",
    },
    # nginx: the colon ends the path (no URI follows); Apache: the URL after "|" picks
    # mod_proxy_http; HAProxy: an address starting with "/" is a unix socket.
    f"unix:{SOCKET}": {
        "nginx": f"proxy_pass http://unix:{SOCKET}:;",
        "apache": f'ProxyPass "/" "unix:{SOCKET}|http://localhost/"',
        "haproxy": f"server app {SOCKET}",
        "caddy": f"reverse_proxy unix/{SOCKET} {{",
    },
}
_UPSTREAM_LINE = re.compile(
    r"^\s*((?:proxy_pass|ProxyPass|server app|reverse_proxy) .*)$", re.MULTILINE
)
ASKS = {
    "nginx": r"ssl_verify_client (optional|optional_no_ca);",
    "apache": r"SSLVerifyClient optional_no_ca",
    "haproxy": r" verify optional ",
    "caddy": r"client_auth \{\s+mode request",
}
CASES = [
    pytest.param(proxy, variant, id=f"{proxy}-{variant}")
    for proxy in PROXIES
    for variant in VARIANTS
]


def rendered(proxy: str, variant: str) -> tuple[ProxyOptions, str]:
    options = ProxyOptions.parse(
        proxy,
        **{
            "listen": "0.0.0.0:443",
            "upstream": "127.0.0.1:8000",
            "tls_cert": "/etc/keystile/tls/server.crt",
            "tls_key": "/etc/keystile/tls/server.key",
            **VARIANTS[variant],
        },
    )
    return options, render(options)


def blocks(proxy: str, text: str) -> list[str]:
    """The TLS-terminating blocks, in order: the main host first, then the certificate host."""
    return re.split(BLOCK[proxy], text)[1:]


def set_values(proxy: str, block: str, header: str) -> list[str]:
    """What ``block`` sets ``header`` to (nginx's removal, setting "", is not a value)."""
    values = re.findall(SETS[proxy].format(re.escape(header)), block)
    return [value for value in values if value != '""']


def test_own_headers_are_the_ones_each_adapter_reads() -> None:
    for proxy in PROXIES:
        assert {h.lower() for h in OWN[proxy]} == set(get_adapter(proxy).header_names)


@pytest.mark.parametrize(("proxy", "variant"), CASES)
def test_no_client_sent_certificate_header_survives(proxy: str, variant: str) -> None:
    _, text = rendered(proxy, variant)
    names = {display_name(h) for h in all_known_certificate_headers()}
    names |= {display_name(h) for fmt in FORMATS for h in get_adapter(fmt).header_names}
    names.add("X-Keystile-Proxy-Secret")
    for block in blocks(proxy, text):
        for name in sorted(names):
            pattern = OVERRIDES[proxy].format(re.escape(name))
            assert re.search(pattern, block), f"{name} passes through a {proxy} block"


@pytest.mark.parametrize(("proxy", "variant"), CASES)
def test_only_the_certificate_host_asks_for_and_forwards_a_certificate(
    proxy: str, variant: str
) -> None:
    options, text = rendered(proxy, variant)
    found = blocks(proxy, text)
    main, certificate = found if options.mode == "explicit" else (None, found[0])
    assert re.search(ASKS[proxy], certificate)
    for header, value in OWN[proxy].items():
        assert set_values(proxy, certificate, header) == [value]
    if main is not None:
        assert not re.search(ASKS[proxy], main)
        for header in OWN[proxy]:
            assert set_values(proxy, main, header) == []


@pytest.mark.parametrize(("proxy", "variant"), CASES)
def test_the_app_is_reached_at_the_upstream_only(proxy: str, variant: str) -> None:
    """Every block that proxies names the upstream, on loopback or its unix socket, and no
    other address appears where a proxy connects."""
    options, text = rendered(proxy, variant)
    expected = UPSTREAM[str(options.upstream)][proxy]
    assert set(_UPSTREAM_LINE.findall(text)) == {expected}
    if proxy == "haproxy":  # one backend, for one frontend or two
        assert text.count(expected) == 1
    else:
        assert all(expected in block for block in blocks(proxy, text))


@pytest.mark.parametrize(("proxy", "variant"), CASES)
def test_the_shared_secret_is_sent_only_when_configured(proxy: str, variant: str) -> None:
    options, text = rendered(proxy, variant)
    for block in blocks(proxy, text):
        values = set_values(proxy, block, "X-Keystile-Proxy-Secret")
        assert values == (
            [f'"{SECRET}"' if proxy in ("nginx", "apache") else SECRET] if options.secret else []
        )
    assert (SECRET in text) == (variant == "secret")


@pytest.mark.parametrize(("proxy", "variant"), CASES)
def test_header_names_the_settings_to_pair_with(proxy: str, variant: str) -> None:
    options, text = rendered(proxy, variant)
    listed = dict(re.findall(r"^#\s+(KEYSTILE_[A-Z_]+)=(\S+)$", text, re.MULTILINE))
    assert listed == paired_settings(options)
    assert listed["KEYSTILE_CERT_HEADER_FORMAT"] == proxy
    # gunicorn reports a unix socket's peer as an empty address, which "unix" trusts.
    assert listed["KEYSTILE_TRUSTED_PROXIES"] == (
        "unix" if variant.startswith("unix") else "127.0.0.1"
    )
    if "explicit" in variant:
        assert listed["KEYSTILE_CERT_LOGIN_ORIGIN"] == "https://cert.login.example.org"


@pytest.mark.parametrize("proxy", PROXIES)
def test_header_says_how_to_run_the_app_server_on_the_unix_socket(proxy: str) -> None:
    _, text = rendered(proxy, "unix")
    header = text.split("\n#\n", 1)[0]
    assert f"--upstream unix:{SOCKET} " in header
    assert (
        f"\n#   gunicorn -c python:app.gunicorn_conf --bind unix:{SOCKET} 'app:create_app()'\n"
    ) in header
    assert f"listens on the unix socket {SOCKET} only" in header
    _, tcp = rendered(proxy, "auto")
    assert "gunicorn" not in tcp.split("\n#\n", 1)[0]


def test_header_names_keep_the_spelling_of_each_format() -> None:
    assert display_name("x-ssl-client-der") == "X-SSL-Client-DER"
    assert display_name("x-amzn-mtls-clientcert-leaf") == "X-Amzn-Mtls-Clientcert-Leaf"
    assert display_name("client-cert-chain") == "Client-Cert-Chain"

"""``keystile proxy-config``: the operator contract of issue 3."""

from __future__ import annotations

from typing import Any

import pytest

from app.deploy import ProxyOptions, render

ARGS = [
    "--listen",
    "0.0.0.0:443",
    "--upstream",
    "127.0.0.1:8000",
    "--tls-cert",
    "/etc/keystile/tls/server.crt",
    "--tls-key",
    "/etc/keystile/tls/server.key",
]


@pytest.mark.parametrize("proxy", ["nginx", "apache", "haproxy", "caddy"])
def test_prints_the_rendered_configuration(runner: Any, proxy: str) -> None:
    result = runner.invoke(
        args=[
            "proxy-config",
            proxy,
            *ARGS,
            "--mode",
            "explicit",
            "--cert-host",
            "cert.example.org",
            "--prefix",
            "/srv/proxy",
        ]
    )
    assert result.exit_code == 0, result.output
    expected = ProxyOptions.parse(
        proxy,
        listen="0.0.0.0:443",
        upstream="127.0.0.1:8000",
        tls_cert="/etc/keystile/tls/server.crt",
        tls_key="/etc/keystile/tls/server.key",
        mode="explicit",
        cert_host="cert.example.org",
        prefix="/srv/proxy",
    )
    assert result.stdout == render(expected)
    assert result.stderr == ""


@pytest.mark.parametrize("proxy", ["nginx", "apache", "haproxy", "caddy"])
def test_unix_socket_upstream(runner: Any, proxy: str) -> None:
    args = [*ARGS[:2], "--upstream", "unix:/run/keystile/app.sock", *ARGS[4:]]
    result = runner.invoke(args=["proxy-config", proxy, *args])
    assert result.exit_code == 0, result.output
    expected = ProxyOptions.parse(
        proxy,
        listen="0.0.0.0:443",
        upstream="unix:/run/keystile/app.sock",
        tls_cert="/etc/keystile/tls/server.crt",
        tls_key="/etc/keystile/tls/server.key",
    )
    assert result.stdout == render(expected)
    assert "#   KEYSTILE_TRUSTED_PROXIES=unix\n" in result.stdout
    assert (
        "#   gunicorn -c python:app.gunicorn_conf --bind unix:/run/keystile/app.sock "
        "'app:create_app()'\n"
    ) in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nginx", *ARGS[:2], "--upstream", "192.0.2.10:8000", *ARGS[4:]], "loopback"),
        (["nginx", *ARGS[:2], "--upstream", "unix:run/app.sock", *ARGS[4:]], "absolute path"),
        (
            ["apache", *ARGS[:2], "--upstream", "unix:/run/app.sock|http://192.0.2.10/", *ARGS[4:]],
            "misread",
        ),
        (["nginx", *ARGS, "--mode", "explicit"], "--cert-host"),
        (["traefik", *ARGS], "--protect HOST=UPSTREAM"),
        (["envoy", *ARGS], "Invalid value"),
        (["nginx", "--listen", "0.0.0.0:443"], "Missing option"),
    ],
)
def test_bad_options_are_usage_errors(runner: Any, args: list[str], message: str) -> None:
    result = runner.invoke(args=["proxy-config", *args])
    assert result.exit_code == 2
    assert message in result.output and result.stdout == ""


class TestWithProxySecret:
    SECRET = "Zm9yLXRoZS1wcm94eS1vbmx5LTEyMzQ1Njc4OTA"

    @pytest.fixture
    def app_overrides(self) -> dict[str, Any]:
        return {"proxy_secret": self.SECRET, "proxy_secret_header": "X-From-Proxy"}

    def test_the_proxy_sends_the_configured_secret(self, runner: Any) -> None:
        result = runner.invoke(args=["proxy-config", "haproxy", *ARGS])
        assert result.exit_code == 0, result.output
        assert f"http-request set-header X-From-Proxy {self.SECRET}\n" in result.stdout
        assert "http-request del-header X-From-Proxy\n" in result.stdout
        assert "#   KEYSTILE_PROXY_SECRET_HEADER=X-From-Proxy\n" in result.stdout
        assert "chmod 600" in result.stderr


def _rendered(proxy: str) -> str:
    return render(
        ProxyOptions.parse(
            proxy,
            listen="0.0.0.0:443",
            upstream="127.0.0.1:8000",
            tls_cert="/etc/keystile/tls/server.crt",
            tls_key="/etc/keystile/tls/server.key",
        )
    )


def _setting(text: str, name: str) -> list[str]:
    """The values of every uncommented ``name`` directive."""
    import re

    return re.findall(rf"^\s*{re.escape(name)}\s+([^;\n]+);?$", text, re.MULTILINE)


def test_nginx_has_room_for_a_flood_and_fails_fast() -> None:
    """Issue 17: 1024 connections ran out at 100 guesses a second and nginx answered 500."""
    text = _rendered("nginx")
    connections = int(_setting(text, "worker_connections")[0])
    assert connections >= 4096
    assert int(_setting(text, "worker_rlimit_nofile")[0]) >= connections
    assert _setting(text, "proxy_connect_timeout") == ["2s"]
    assert _setting(text, "proxy_read_timeout") == ["15s"]
    # Keystile's own 429 and 503 reach the client as they are
    assert _setting(text, "proxy_intercept_errors") == ["off"]
    assert "error_page 5" not in text
    # the per-address request-rate lines are there to uncomment, and off by default
    assert "# limit_req_zone $keystile_password_guess zone=keystile_login:10m rate=2r/s;" in text
    assert "# limit_req zone=keystile_login burst=20 nodelay;" in text
    # the rate of sign-ins from browsers without a device token is on, at the default
    assert _setting(text, "limit_req_zone") == [
        "$keystile_new_browser_guess zone=keystile_new_browsers:1m rate=50r/s"
    ]
    assert _setting(text, "limit_req") == ["zone=keystile_new_browsers burst=50 nodelay"]
    assert _setting(text, "error_page 429") == ["= @keystile_busy"]
    # refusals go to the access log only: a flood would write hundreds of error lines a second
    assert _setting(text, "limit_req_log_level") == ["info"]
    assert _setting(text, "error_log")[0].endswith(" notice")


def test_nginx_counts_sign_ins_without_a_device_cookie_only() -> None:
    """The map's pattern, read as nginx reads it (PCRE; Python's re agrees on this one):
    only a POST carrying no ``__Host-keystile-device`` cookie is keyed, so only it is counted."""
    import re

    text = _rendered("nginx")
    pattern = re.search(r'"~(\^POST:[^"]+)" "all";', text)
    assert pattern is not None
    counted = re.compile(pattern.group(1))
    for key, expected in [
        ("POST:", True),
        ("POST:session=abc", True),
        ("POST:__Host-keystile-device-x=1", True),
        ("POST:x__Host-keystile-device=1", True),
        ("POST:a=1;__Host-keystile-device=1", False),
        ("POST:a=1; __Host-keystile-device=1; b=2", False),
        ("POST:__Host-keystile-device=1", False),
        ("GET:", False),
        ("PUT:", False),
    ]:
        assert bool(counted.match(key)) is expected, key


@pytest.mark.parametrize("proxy", ["nginx", "haproxy", "traefik"])
def test_login_rate_sets_the_rate_and_zero_removes_it(runner: Any, proxy: str) -> None:
    args = [*ARGS, "--protect", "wiki.example.com=127.0.0.1:3000"]
    faster = runner.invoke(args=["proxy-config", proxy, *args, "--login-rate", "400"])
    off = runner.invoke(args=["proxy-config", proxy, *args, "--login-rate", "0"])
    assert faster.exit_code == 0 and off.exit_code == 0, faster.output + off.output
    assert "--login-rate 400" in faster.stdout  # in the command line the header repeats
    if proxy == "nginx":
        assert "rate=400r/s" in faster.stdout and "burst=400 nodelay" in faster.stdout
    elif proxy == "haproxy":
        assert "table_http_req_rate(keystile_new_browsers) ge 400 }" in faster.stdout
    else:
        assert "average: 400\n        burst: 400\n        period: 1s\n" in faster.stdout
        assert "!HeaderRegexp(`Cookie`, `(^|;) *__Host-keystile-device=`)" in faster.stdout
    assert "login-rate 0" in off.stdout
    assert not any(word in off.stdout for word in ("keystile_new_browser", "keystile-login-rate"))
    bad = runner.invoke(args=["proxy-config", proxy, *args, "--login-rate", "-1"])
    assert bad.exit_code == 2 and "--login-rate" in bad.output


@pytest.mark.parametrize("proxy", ["apache", "caddy"])
def test_proxies_without_a_request_rate_say_nothing_of_one(runner: Any, proxy: str) -> None:
    result = runner.invoke(args=["proxy-config", proxy, *ARGS, "--login-rate", "400"])
    assert result.exit_code == 0, result.output
    assert "400" not in result.stdout


def test_haproxy_has_room_for_a_flood_and_fails_fast() -> None:
    text = _rendered("haproxy")
    assert [int(v) for v in _setting(text, "maxconn")] == [8192, 4096]
    for name, value in [
        ("timeout connect", "2s"),
        ("timeout server", "15s"),
        ("timeout queue", "5s"),
    ]:
        assert _setting(text, name) == [value], name
    assert "errorfile" not in text
    assert "# http-request deny deny_status 429 if { method POST } { path /login }" in text
    # the rate of sign-ins from browsers without a device token: read before it is counted
    guess = "{ method POST } { path /login } !{ req.cook(__Host-keystile-device) -m found }"
    deny = text.index("http-request deny deny_status 429 content-type")
    track = text.index(f"http-request track-sc1 str(all) table keystile_new_browsers if {guess}\n")
    assert deny < track
    assert f"if {guess} {{ str(all),table_http_req_rate(keystile_new_browsers) ge 50 }}" in text
    assert "stick-table type string len 8 size 1 expire 10s store http_req_rate(1s)" in text


@pytest.mark.parametrize("proxy", ["nginx", "caddy", "traefik", "haproxy"])
def test_protect_renders_the_gate(runner: Any, proxy: str) -> None:
    sites = ["wiki.example.com=127.0.0.1:3000", "tools.example.org=127.0.0.1:3001"]
    result = runner.invoke(
        args=["proxy-config", proxy, *ARGS, "--protect", sites[0], "--protect", sites[1]]
    )
    assert result.exit_code == 0, result.output
    expected = ProxyOptions.parse(
        proxy,
        listen="0.0.0.0:443",
        upstream="127.0.0.1:8000",
        tls_cert="/etc/keystile/tls/server.crt",
        tls_key="/etc/keystile/tls/server.key",
        protect=sites,
    )
    assert result.stdout == render(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("wiki.example.com", "expected HOST=UPSTREAM"),
        ("wiki.example.com=127.0.0.1:99999", "is not a TCP port"),
        ("wiki/x=127.0.0.1:3000", "is not a DNS host name"),
    ],
)
def test_a_bad_protect_is_a_usage_error(runner: Any, value: str, message: str) -> None:
    result = runner.invoke(args=["proxy-config", "caddy", *ARGS, "--protect", value])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output

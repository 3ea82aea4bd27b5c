"""Settings: environment parsing and refusal of invalid configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, load_settings

GOOD = {"KEYSTILE_SECRET_KEY": "k3Jd9-aL2qPz8xWv_Rt6YbNc4MhUe7FgSs1Ao0Ii5Kk"}


def test_defaults_and_environment() -> None:
    s = load_settings(
        {
            **GOOD,
            "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "KEYSTILE_ARGON2_TIME_COST": "3",
            "KEYSTILE_CERT_LOGIN": "off",
        }
    )
    assert [str(n) for n in s.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert s.argon2_time_cost == 3 and s.cert_login == "off"
    assert s.webauthn_rp_id == "localhost"


def test_trusted_proxies_may_name_the_unix_socket() -> None:
    s = load_settings({**GOOD, "KEYSTILE_TRUSTED_PROXIES": "unix, ::1"})
    peers = s.trusted_proxies
    assert peers.unix_socket and [str(n) for n in peers] == ["::1/128"]
    # gunicorn reports a unix-socket peer as an empty address; only then is it trusted.
    assert peers.trust("") and peers.trust("::1")
    assert not peers.trust("127.0.0.1") and not peers.trust("unix") and not peers.trust("x")
    tcp_only = load_settings({**GOOD, "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1"}).trusted_proxies
    assert tcp_only.trust("127.0.0.1") and not tcp_only.trust("")
    assert not load_settings(GOOD).trusted_proxies  # nothing trusted by default


def test_development_gets_a_dev_secret() -> None:
    assert load_settings({"KEYSTILE_ENV": "development"}).secret_key == DEV_SECRET_KEY


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        pytest.param({}, "KEYSTILE_SECRET_KEY is required", id="no-secret"),
        pytest.param({"KEYSTILE_SECRET_KEY": "short"}, "too weak", id="short-secret"),
        pytest.param({"KEYSTILE_SECRET_KEY": "a" * 64}, "too weak", id="low-entropy-secret"),
        pytest.param({**GOOD, "KEYSTILE_TRUSTED_PROXIES": "nginx"}, "not an IP", id="bad-cidr"),
        pytest.param({**GOOD, "KEYSTILE_ORIGIN": "ftp://x"}, "KEYSTILE_ORIGIN", id="bad-origin"),
        pytest.param({**GOOD, "KEYSTILE_ORIGIN": "http://example.org"}, "https", id="http-origin"),
        pytest.param({**GOOD, "KEYSTILE_CERT_LOGIN": "maybe"}, "auto, explicit", id="bad-mode"),
        pytest.param({**GOOD, "KEYSTILE_CERT_HEADER_FORMAT": "iis"}, "one of", id="bad-fmt"),
        pytest.param({**GOOD, "KEYSTILE_ARGON2_TIME_COST": "two"}, "whole number", id="bad-int"),
        pytest.param({**GOOD, "KEYSTILE_ARGON2_MEMORY_KIB": "1024"}, "between", id="tiny-mem"),
        pytest.param(
            {**GOOD, "KEYSTILE_HASH_SLOTS": "-1"}, "KEYSTILE_HASH_SLOTS", id="negative-hash-slots"
        ),
        pytest.param(
            {**GOOD, "KEYSTILE_HASH_WAIT_MS": "60000"}, "KEYSTILE_HASH_WAIT_MS", id="long-hash-wait"
        ),
        pytest.param(
            {**GOOD, "KEYSTILE_CLIENT_CA": "/nonexistent.pem"}, "no such file", id="missing-ca"
        ),
        pytest.param({**GOOD, "KEYSTILE_REDIS_URL": "localhost:6379"}, "redis://", id="bad-redis"),
        pytest.param(
            {**GOOD, "KEYSTILE_REDIS_PREFIX": "site a/"}, "REDIS_PREFIX", id="bad-redis-prefix"
        ),
        pytest.param({**GOOD, "KEYSTILE_CERT_SUNSET": "next year"}, "date", id="bad-sunset"),
        pytest.param(
            {**GOOD, "KEYSTILE_CERT_LOGIN": "explicit"},
            "CERT_LOGIN_ORIGIN",
            id="explicit-needs-origin",
        ),
    ],
)
def test_invalid_configuration_is_refused(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


def test_invalid_configuration_stops_startup_with_a_message(tmp_path: Path) -> None:
    code = "from app import create_app; create_app()"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"KEYSTILE_SECRET_KEY": "weak", "PATH": "/usr/bin"},
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert proc.returncode == 2
    assert "invalid configuration" in proc.stderr and "too weak" in proc.stderr
    assert "Traceback" not in proc.stderr

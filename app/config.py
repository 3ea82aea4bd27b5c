"""Keystile settings: defaults, then ``KEYSTILE_*`` environment variables, then a test mapping.

Every setting is parsed and validated once, at start-up, into a frozen :class:`Settings`;
the rest of the code receives the values it needs as arguments and never reads the
environment itself. An invalid value stops start-up with a :class:`ConfigError` that
names the variable and says what is wrong.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

PREFIX = "KEYSTILE_"
DEV_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"
CERT_HEADER_FORMATS = (
    "nginx",
    "apache",
    "haproxy",
    "caddy",
    "envoy",
    "traefik",
    "aws-alb",
    "rfc9440",
)


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedPeers:
    """``KEYSTILE_TRUSTED_PROXIES``: who may send proxy headers, judged by the raw peer.

    Addresses and CIDRs, and ``unix`` for connections over a unix socket (the app server
    reports their peer as an empty address; only what can open the socket file reaches it).
    """

    networks: tuple[IPNetwork, ...] = ()
    unix_socket: bool = False

    def __bool__(self) -> bool:
        return bool(self.networks) or self.unix_socket

    def __iter__(self) -> Iterator[IPNetwork]:
        return iter(self.networks)

    @functools.lru_cache(maxsize=256)  # noqa: B019 - the settings live as long as the app
    def trust(self, peer: str) -> bool:
        """Whether ``peer`` (a request's raw ``REMOTE_ADDR``) is a trusted proxy
        (remembered per peer: the gate asks on every check)."""
        if not peer:
            return self.unix_socket
        try:
            addr = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)


#: the settings that hold throttle limits
LIMIT_SETTINGS = (
    "login_limit_per_address",
    "login_limit_per_account",
    "request_limit_per_address",
    "challenge_limit_per_address",
    "login_limit_per_device",
)


@dataclass(frozen=True)
class Settings:
    """All of Keystile's settings. Field names map to ``KEYSTILE_<NAME upper-case>``."""

    env: str = "production"  #: ``development`` relaxes the secret-key rule only
    secret_key: str = ""
    #: previous secret keys, still accepted on signed cookies while browsers move to the new
    #: one (Flask's ``SECRET_KEY_FALLBACKS``); comma-separated
    secret_key_fallbacks: tuple[str, ...] = ()
    database_url: str = ""  #: default: SQLite under ``instance/``
    redis_url: str = ""  #: shared storage for throttling when several instances run
    #: the first part of every key kept in Redis: deployments sharing one Redis need their own
    redis_prefix: str = "keystile"
    origin: str = "https://localhost:8443"  #: the public https origin of the main host
    extra_origins: tuple[str, ...] = ()  #: more origins accepted for WebAuthn (development)
    rp_id: str = ""  #: WebAuthn relying party id; default: the origin's host
    rp_name: str = "Keystile"
    instance_path: str = ""

    # Passwords (argon2id, OWASP defaults: 19 MiB, t=2, p=1)
    argon2_memory_kib: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1

    # The password-hashing budget (app/services/hash_budget.py)
    hash_slots: int = 0  #: concurrent argon2id verifications per process; 0: its cores
    hash_wait_ms: int = 250  #: how long a sign-in waits for a slot before it is refused

    # Sessions
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    recent_auth_minutes: int = 10  #: how recent a sign-in must be for sensitive changes
    #: answer the plain sign-in requests beneath Flask (app/edge); off: Flask answers all
    sign_in_edge: bool = True

    # Throttling (the `limits` notation: "10/minute;60/hour", every window must have room)
    login_limit_per_address: str = "30/minute;300/hour"
    login_limit_per_account: str = "10/minute;60/hour"
    request_limit_per_address: str = "5/minute;20/hour"
    #: passkey sign-in options (each stores a challenge); every sign-in page view asks once
    #: (autofill), so an office behind one NAT address needs room: this bounds the table's
    #: growth (challenges are pruned an hour after they expire), not guessing
    challenge_limit_per_address: str = "300/minute;3000/hour"
    #: wrong passwords per account from a browser holding a device token for it, instead of
    #: the account's limit (issue #17: others' guesses must not lock the owner out)
    login_limit_per_device: str = "5/minute;30/hour"
    device_token_days: int = 180  #: how long a browser's device token for an account lives

    # Client certificates
    cert_login: str = "auto"  #: auto | explicit | off
    cert_login_origin: str = ""  #: explicit mode: origin of the certificate host
    cert_header_format: str = "nginx"
    cert_header: str = ""  #: override the certificate header's name
    trusted_proxies: TrustedPeers = field(default_factory=TrustedPeers)
    proxy_secret: str = ""
    proxy_secret_header: str = "X-Keystile-Proxy-Secret"
    client_ca: str = ""  #: PEM bundle of trusted issuers; enables CA mode
    client_crl: tuple[str, ...] = ()  #: CRL files (PEM or DER), comma-separated
    cert_mapping: str = "pin"  #: pin (pin on first use) | email | upn
    cert_sunset: date | None = None
    #: a session opened with a certificate holds only with its key, where the proxy
    #: forwards the certificate with every request (the gate; ``auto`` mode's pages)
    cert_bound_sessions: bool = True
    cert_sunset_grace_days: int = 30
    ca_dir: str = ""  #: where ``keystile ca init`` keeps the built-in CA

    # Passkeys
    require_hardware_key_for: tuple[str, ...] = ()
    mds_blob: str = ""
    mds_root: str = ""

    # Notifications
    smtp_url: str = ""
    mail_from: str = "keystile@localhost"

    # The forward-auth gate
    access_rules: str = ""  #: TOML file of access rules for protected hosts (empty: none)
    #: a signed JWT in ``Remote-Assertion`` on every allow (keys at /.well-known/jwks.json)
    gate_assertion: bool = False
    gate_assertion_key: str = ""  #: PEM file of the EC P-256 signing key (empty: generated)
    gate_assertion_previous_keys: tuple[str, ...] = ()  #: PEM files published, not used

    dev_tls_ports: tuple[int, int] = field(default=(8443, 8080))

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def webauthn_rp_id(self) -> str:
        return self.rp_id or (urlsplit(self.origin).hostname or "localhost")

    @property
    def webauthn_origins(self) -> tuple[str, ...]:
        return (self.origin, *self.extra_origins)


def _parse_bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{PREFIX}{name.upper()} must be true or false, not {raw!r}")


def _parse_networks(name: str, raw: str) -> TrustedPeers:
    nets = []
    unix_socket = False
    for part in filter(None, (p.strip() for p in raw.split(","))):
        if part.lower() == "unix":
            unix_socket = True
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name.upper()}: {part!r} is not an IP address, a CIDR or unix"
            ) from None
    return TrustedPeers(tuple(nets), unix_socket)


def _coerce(name: str, current: Any, raw: Any) -> Any:
    """Turn one raw environment string into the type of the field's default."""
    if not isinstance(raw, str):
        return raw
    if name == "trusted_proxies":
        return _parse_networks(name, raw)
    if name == "cert_sunset":
        if not raw.strip():
            return None
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            raise ConfigError(f"{PREFIX}CERT_SUNSET must be a date like 2027-01-31") from None
    if isinstance(current, bool):
        return _parse_bool(name, raw)
    if isinstance(current, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{PREFIX}{name.upper()} must be a whole number") from None
    if isinstance(current, tuple):
        items = tuple(p.strip() for p in raw.split(",") if p.strip())
        if name == "dev_tls_ports":
            try:
                return tuple(int(p) for p in items)
            except ValueError:
                raise ConfigError(f"{PREFIX}DEV_TLS_PORTS must be two ports") from None
        return items
    return raw


def _secret_is_weak(secret: str) -> bool:
    """A secret is weak when short or of low character entropy (< ~128 bits in all)."""
    if len(secret) < 32:
        return True
    counts = Counter(secret)
    entropy_per_char = -sum(c / len(secret) * math.log2(c / len(secret)) for c in counts.values())
    return entropy_per_char * len(secret) < 128


def _validate(s: Settings) -> None:
    if s.env not in {"production", "development", "testing"}:
        raise ConfigError("KEYSTILE_ENV must be production, development or testing")
    if not s.secret_key:
        raise ConfigError(
            "KEYSTILE_SECRET_KEY is required outside development: "
            'generate one with: python3 -c "import secrets; print(secrets.token_urlsafe(48))". '
            "For the development server of `make run` and commands run beside it, set "
            "KEYSTILE_ENV=development instead (as the command `make run` prints does)"
        )
    if s.env == "production" and (s.secret_key == DEV_SECRET_KEY or _secret_is_weak(s.secret_key)):
        raise ConfigError("KEYSTILE_SECRET_KEY is too weak: use at least 32 random characters")
    for number, fallback in enumerate(s.secret_key_fallbacks, start=1):
        # A cookie signed with any of them is accepted: each must be as strong as the key.
        if s.env == "production" and (fallback == DEV_SECRET_KEY or _secret_is_weak(fallback)):
            raise ConfigError(
                f"KEYSTILE_SECRET_KEY_FALLBACKS: key {number} is too weak: "
                "use at least 32 random characters"
            )
        if fallback == s.secret_key:
            raise ConfigError(
                f"KEYSTILE_SECRET_KEY_FALLBACKS: key {number} is the current "
                "KEYSTILE_SECRET_KEY; list only previous keys"
            )
    parts = urlsplit(s.origin)
    if parts.scheme not in {"https", "http"} or not parts.hostname or parts.path not in {"", "/"}:
        raise ConfigError(
            "KEYSTILE_ORIGIN must be an origin like https://login.example.org (no path)"
        )
    if parts.scheme == "http" and parts.hostname not in {"localhost", "127.0.0.1"}:
        raise ConfigError("KEYSTILE_ORIGIN must use https (http only for localhost)")
    if s.cert_login not in {"auto", "explicit", "off"}:
        raise ConfigError("KEYSTILE_CERT_LOGIN must be auto, explicit or off")
    if s.cert_login == "explicit" and not s.cert_login_origin:
        raise ConfigError("KEYSTILE_CERT_LOGIN=explicit needs KEYSTILE_CERT_LOGIN_ORIGIN")
    if s.cert_header_format not in CERT_HEADER_FORMATS:
        raise ConfigError(
            "KEYSTILE_CERT_HEADER_FORMAT must be one of " + ", ".join(CERT_HEADER_FORMATS)
        )
    if s.cert_mapping not in {"pin", "email", "upn"}:
        raise ConfigError("KEYSTILE_CERT_MAPPING must be pin, email or upn")
    if s.cert_mapping != "pin" and not s.client_ca:
        raise ConfigError("KEYSTILE_CERT_MAPPING=email|upn needs KEYSTILE_CLIENT_CA")
    for name in ("client_ca", "mds_blob", "mds_root"):
        value = getattr(s, name)
        if value and not Path(value).is_file():
            raise ConfigError(f"{PREFIX}{name.upper()}: no such file {value!r}")
    for crl in s.client_crl:
        if not Path(crl).is_file():
            raise ConfigError(f"KEYSTILE_CLIENT_CRL: no such file {crl!r}")
    if not 8 * 1024 <= s.argon2_memory_kib <= 4 * 1024 * 1024:
        raise ConfigError("KEYSTILE_ARGON2_MEMORY_KIB must be between 8192 and 4194304")
    if not 1 <= s.argon2_time_cost <= 20 or not 1 <= s.argon2_parallelism <= 16:
        raise ConfigError("KEYSTILE_ARGON2_TIME_COST (1-20) or _PARALLELISM (1-16) out of range")
    if not 0 <= s.hash_slots <= 1024 or not 0 <= s.hash_wait_ms <= 10_000:
        raise ConfigError(
            "KEYSTILE_HASH_SLOTS (0-1024, 0: the process's cores) or "
            "KEYSTILE_HASH_WAIT_MS (0-10000) out of range"
        )
    if s.session_idle_minutes < 1 or s.session_absolute_hours < 1:
        raise ConfigError("session timeouts must be positive")
    if not 1 <= s.device_token_days <= 3650:
        raise ConfigError("KEYSTILE_DEVICE_TOKEN_DAYS must be between 1 and 3650")
    if s.redis_url and not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("KEYSTILE_REDIS_URL must be a redis:// URL")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", s.redis_prefix):
        raise ConfigError("KEYSTILE_REDIS_PREFIX must be 1-64 letters, digits, '_', '.' or '-'")
    if s.gate_assertion_key or s.gate_assertion_previous_keys:
        from app.services.assertion import AssertionKeyError, check_key_files

        # Named keys are read now: a bad file stops start-up, not the first check.
        for name, key, previous in (
            ("GATE_ASSERTION_KEY", s.gate_assertion_key, ()),
            ("GATE_ASSERTION_PREVIOUS_KEYS", "", s.gate_assertion_previous_keys),
        ):
            try:
                check_key_files(key, previous)
            except AssertionKeyError as exc:
                raise ConfigError(f"{PREFIX}{name}: {exc}") from None
    if s.access_rules:
        from app.services.access import AccessRulesError, load_rules

        try:
            load_rules(s.access_rules)
        except AccessRulesError as exc:
            raise ConfigError(f"KEYSTILE_ACCESS_RULES: {exc}") from None
    for name in LIMIT_SETTINGS:
        try:
            parse_many(getattr(s, name))
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name.upper()} must be limits like 10/minute;60/hour"
            ) from None


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build validated settings from defaults, the environment and ``overrides``.

    Raises:
        ConfigError: a value is invalid; the message says which and why.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    defaults = Settings()
    for f in dataclasses.fields(Settings):
        key = PREFIX + f.name.upper()
        if key in environ:
            values[f.name] = _coerce(f.name, getattr(defaults, f.name), environ[key])
    for name, raw in (overrides or {}).items():
        if name not in {f.name for f in dataclasses.fields(Settings)}:
            raise ConfigError(f"unknown setting {name!r}")
        values[name] = _coerce(name, getattr(defaults, name), raw)
    env = values.get("env", defaults.env)
    if env == "development" and not values.get("secret_key"):
        values["secret_key"] = DEV_SECRET_KEY
    settings = dataclasses.replace(defaults, **values)
    _validate(settings)
    return settings

"""Keystile behind real nginx, Apache, HAProxy and Caddy, each started by the tests.

``stack`` (parametrized indirectly with a ``StackSpec``) builds one deployment for one test:

- a temporary SQLite database migrated with ``keystile db upgrade``; user ``alice`` with a
  password, and the certificates of the variant pinned to her with ``keystile cert pin``;
- the proxy configuration printed by ``keystile proxy-config`` for free loopback ports (or,
  with ``StackSpec.upstream == "unix"``, gunicorn on a unix socket), with the proxy's prefix
  (pid file, logs, state) under the test's temporary directory;
- gunicorn with the ``KEYSTILE_*`` settings that configuration says to pair it with;
- the proxy's own binary running that configuration.

Readiness is polled through the proxy to Keystile's ``/healthz``; every process is stopped
when the test ends, whether it passed or not. One stack per test (function scope) means
pytest-xdist never starts the same stack in two workers; each starts in about a second.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from flask import Flask

from app import create_app
from app.db import engine_of
from app.models import AuditEvent
from app.services import ca
from app.services.certificates import describe
from tests.conftest import PASSWORD, require
from tests.e2e.proxies import servers
from tests.support.pki import Identity, Pki, make_pki

Variant = Literal["pinned", "ca", "explicit"]
#: How the proxy reaches gunicorn: a loopback TCP port, or a unix socket.
Upstream = Literal["tcp", "unix"]
CERT_HOST = "cert.localhost"
#: What each variant pins to alice. CA mode pins certificates that it must still refuse, so
#: that a refusal there is about the chain, the dates or the CRL, never a missing pin.
PINS: dict[Variant, tuple[str, ...]] = {
    "pinned": ("self_signed", "expired"),
    "ca": ("good", "revoked", "expired", "other_ca_client", "self_signed"),
    "explicit": ("self_signed",),
}
_PAIRED = re.compile(r"^#\s+(KEYSTILE_[A-Z_]+)=(\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class StackSpec:
    proxy: str
    variant: Variant
    upstream: Upstream = "tcp"
    #: the configuration's optional request-rate lines uncommented
    rate_limited: bool = False
    #: ``--login-rate``, when not the default
    login_rate: int | None = None

    def __str__(self) -> str:
        return (
            f"{self.proxy}-{self.variant}"
            + ("-unix" if self.upstream == "unix" else "")
            + ("-rate-limited" if self.rate_limited else "")
            + (f"-login-rate-{self.login_rate}" if self.login_rate is not None else "")
        )


@dataclass(frozen=True)
class Tls:
    """The test PKI, plus a server certificate for ``localhost`` and ``cert.localhost``."""

    pki: Pki
    cert: Path
    key: Path

    def trust(self, identity: Identity | None = None) -> ssl.SSLContext:
        """A client context trusting the test CA, presenting ``identity`` when given."""
        ctx = ssl.create_default_context(cafile=str(self.pki.ca.cert_path))
        if identity is not None:
            ctx.load_cert_chain(identity.cert_path, identity.key_path)
        return ctx


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    directory = tmp_path_factory.mktemp("pki")
    pki = make_pki(directory)
    cert, key = ca.issue_server_certificate(
        pki.ca.as_authority(), hostnames=["localhost", CERT_HOST]
    )
    # HAProxy 2.6 finds the key as NAME.key next to NAME.crt (app.deploy.options).
    cert_path, key_path = directory / "proxy-server.crt", directory / "proxy-server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Tls(pki, cert_path, key_path)


@dataclass
class Stack:
    """One running deployment: the proxy in front of gunicorn, and the database behind."""

    spec: StackSpec
    tls: Tls = field(repr=False)
    port: int
    #: gunicorn's loopback port, or None when it listens on ``app_socket``
    app_port: int | None
    #: pki identity name -> id of alice's certificate credential for it
    pins: dict[str, int]
    engine: sa.Engine = field(repr=False)
    #: gunicorn's unix socket, when ``spec.upstream`` is ``unix``
    app_socket: Path | None = None

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def cert_origin(self) -> str:
        return f"https://{CERT_HOST}:{self.port}"

    def identity(self, name: str | None) -> Identity | None:
        return getattr(self.tls.pki, name) if name else None

    def client(self, identity: str | None = None) -> httpx.Client:
        """An https client of the proxy, with a cookie jar, presenting ``identity``'s
        certificate when asked for one."""
        return httpx.Client(
            base_url=self.origin, verify=self.tls.trust(self.identity(identity)), timeout=15
        )

    def on_cert_host(self, client: httpx.Client, url: str) -> httpx.Response:
        """``GET url`` on the certificate host: connect to 127.0.0.1 with its name as SNI
        and ``Host``, as curl's ``--resolve`` would; no resolver needs to know it."""
        target = httpx.URL(url)
        assert target.host == CERT_HOST, url
        return client.get(
            target.copy_with(host="127.0.0.1"),
            headers={"Host": f"{CERT_HOST}:{self.port}"},
            extensions={"sni_hostname": CERT_HOST},
        )

    def app_client(self, source: str | None = None) -> httpx.Client:
        """A plain-http client of gunicorn itself: connecting from ``source`` to its loopback
        port, or over its unix socket (where a connection has no source address)."""
        if self.app_socket is not None:
            if source is not None:
                raise ValueError(f"gunicorn listens on {self.app_socket}: no source address")
            return httpx.Client(
                base_url="http://localhost",
                transport=httpx.HTTPTransport(uds=str(self.app_socket)),
                timeout=15,
            )
        transport = httpx.HTTPTransport(local_address=source)
        return httpx.Client(
            base_url=f"http://127.0.0.1:{self.app_port}", transport=transport, timeout=15
        )

    def last_audit_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0)

    def audit_after(self, last_id: int) -> list[sa.Row[Any]]:
        table = AuditEvent.__table__
        with self.engine.connect() as conn:
            return list(
                conn.execute(sa.select(table).where(table.c.id > last_id).order_by(table.c.id))
            )


def _fields(settings: dict[str, str]) -> dict[str, str]:
    """``KEYSTILE_X_Y`` environment names -> ``create_app`` field names ``x_y``."""
    return {name.removeprefix("KEYSTILE_").lower(): value for name, value in settings.items()}


class KeystileCli:
    """Keystile's own commands, run in-process: the same CLI, without a start-up per call."""

    def __init__(self, app: Flask) -> None:
        self.runner = app.test_cli_runner()

    def __call__(self, *args: str, input: str | None = None) -> str:
        result = self.runner.invoke(args=list(args), input=input)
        assert result.exit_code == 0, f"keystile {' '.join(args)}: {result.output}"
        return str(result.stdout)

    def proxy_config(
        self, spec: StackSpec, tls: Tls, *, port: int, upstream: str, prefix: Path
    ) -> str:
        args = [
            "proxy-config",
            spec.proxy,
            "--listen",
            f"127.0.0.1:{port}",
            "--upstream",
            upstream,
            "--tls-cert",
            str(tls.cert),
            "--tls-key",
            str(tls.key),
            "--prefix",
            str(prefix),
        ]
        if spec.variant == "ca":
            args += ["--client-ca", str(tls.pki.ca.cert_path)]
        if spec.variant == "explicit":
            args += ["--mode", "explicit", "--cert-host", CERT_HOST]
        if spec.login_rate is not None:
            args += ["--login-rate", str(spec.login_rate)]
        return self(*args)

    def seed(self, spec: StackSpec, tls: Tls) -> dict[str, int]:
        """Migrate, create alice with a password, pin the variant's certificates to her.

        Returns:
            pki identity name -> credential id.
        """
        self("db", "upgrade")
        self("user", "create", "alice", "--password-stdin", input=PASSWORD + "\n")
        names = {
            describe(getattr(tls.pki, name).cert).spki_sha256: name for name in PINS[spec.variant]
        }
        for name in names.values():
            self("cert", "pin", "alice", str(getattr(tls.pki, name).cert_path))
        listed = json.loads(self("cert", "list", "alice", "--json"))
        return {names[row["spki_sha256"]]: int(row["id"]) for row in listed}


#: the optional request-rate lines of the nginx and HAProxy configurations, commented out
_RATE_LINES = re.compile(
    r"^(\s*)# ((?:map \$request_method|limit_req_zone|limit_req |stick-table|"
    r"http-request track-sc0|http-request deny).*)$",
    re.MULTILINE,
)


def with_request_rate_lines(config: str) -> str:
    """The configuration with its optional request-rate lines in force."""
    changed, count = _RATE_LINES.subn(r"\1\2", config)
    assert count >= 3, "no request-rate lines to uncomment"
    return changed


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    tls: Tls,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    spec: StackSpec = request.param
    package = "apache2" if spec.proxy == "apache" else spec.proxy
    require(
        servers.binary(spec.proxy) is not None,
        f"{spec.proxy} is not installed (apt install {package})",
    )
    port, tcp_port = servers.free_ports(2)
    database = f"sqlite:///{tmp_path / 'keystile.sqlite3'}"
    base = {
        "KEYSTILE_ENV": "testing",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": database,
        "KEYSTILE_INSTANCE_PATH": str(tmp_path / "instance"),
        "KEYSTILE_ORIGIN": f"https://localhost:{port}",
        "KEYSTILE_ARGON2_MEMORY_KIB": "8192",
        "KEYSTILE_ARGON2_TIME_COST": "1",
    }
    if spec.variant == "ca":
        # CA mode also checks the CRL, and runs with a shared secret the proxy must send.
        base["KEYSTILE_PROXY_SECRET"] = secrets.token_urlsafe(32)
        base["KEYSTILE_CLIENT_CRL"] = str(tls.pki.crl.path)
    # A short prefix: HAProxy's explicit mode keeps unix sockets there (at most 97 bytes).
    prefix = tmp_path_factory.mktemp(spec.proxy)
    engine = sa.create_engine(database)
    with ExitStack() as running:
        running.callback(engine.dispose)
        app = create_app(_fields(base))
        running.callback(engine_of(app).dispose)
        cli = KeystileCli(app)
        app_port: int | None = tcp_port
        app_socket: Path | None = None
        if spec.upstream == "unix":
            # Short, like the prefix: HAProxy takes unix socket paths of at most 97 bytes.
            directory = servers.socket_directory(spec.proxy, tmp_path_factory.mktemp("app"))
            app_socket, app_port = running.enter_context(directory) / "app.sock", None
        upstream = f"unix:{app_socket}" if app_socket else f"127.0.0.1:{app_port}"
        config = cli.proxy_config(spec, tls, port=port, upstream=upstream, prefix=prefix)
        if spec.rate_limited:
            config = with_request_rate_lines(config)
        # gunicorn runs with exactly the settings the configuration says to pair it with,
        # and boots while the database is seeded.
        settings = {**base, **dict(_PAIRED.findall(config))}
        keystile = running.enter_context(
            servers.keystile(settings, tmp_path, port=app_port, unix_socket=app_socket)
        )
        pins = cli.seed(spec, tls)
        keystile.wait()
        running.enter_context(
            servers.proxy(spec.proxy, config, port=port, prefix=prefix, trust=tls.trust())
        ).wait()
        yield Stack(spec, tls, port, app_port, pins, engine, app_socket)

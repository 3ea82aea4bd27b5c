"""Several Keystile instances as in production, for end-to-end tests: separate gunicorn
processes on separate loopback ports (as if on separate machines), one PostgreSQL database,
one Redis database, and a real nginx in front sending requests round robin (no sticky
sessions). nginx also checks ``/gate/...`` with ``auth_request`` against the instances'
``/api/authz/auth-request`` (as if for the protected host ``localhost``) and answers the
page itself; with ``tls=`` it listens on a second port with TLS too, asking for a client
certificate (``ssl_verify_client optional_no_ca``) and forwarding it as
``keystile proxy-config nginx`` does.

Built on :mod:`tests.e2e.proxies.servers`: every process runs in a process group of its
own, is waited for by polling ``/healthz`` (never a fixed sleep), and is stopped with its
whole group when the cluster stops, a failed start included. Ports are free ones.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import FAST_HASH
from tests.e2e.proxies import servers
from tests.support.pki import Pki, make_pki

NGINX_CONF = """\
worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log off;
    upstream keystile {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://keystile;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-SSL-Client-Cert "";
            proxy_set_header X-SSL-Client-Verify "";
            proxy_max_temp_file_size 0;
            add_header X-Upstream $upstream_addr always;
        }}
{gate}
    }}
{tls_server}
}}
"""

GATE = """\
        location /gate/ {{
            auth_request /_check;
            try_files /nonexistent @allowed;
        }}
        location @allowed {{
            return 200 "ok\\n";
        }}
        location = /_check {{
            internal;
            proxy_pass http://keystile/api/authz/auth-request;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Original-URL https://localhost$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-SSL-Client-Cert {cert};
            proxy_set_header X-SSL-Client-Verify {verify};
        }}"""

TLS_SERVER = """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_verify_client optional_no_ca;
        location / {{
            proxy_pass http://keystile;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
            proxy_max_temp_file_size 0;
            add_header X-Upstream $upstream_addr always;
        }}
{gate}
    }}"""


def keystile_cli() -> str:
    return str(Path(sys.executable).with_name("keystile"))


@dataclass
class Instance:
    """One gunicorn serving Keystile on ``port``."""

    name: str
    port: int
    directory: Path
    env: dict[str, str]
    server: servers.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Instance:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.server = servers.keystile(self.env, self.directory, port=self.port).wait()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self, **env: str) -> Instance:
        """Stop, change settings (``KEYSTILE_*`` names), start again and wait until ready."""
        self.stop()
        self.env.update(env)
        return self.start()


@dataclass
class Cluster:
    """``instances`` behind nginx at :attr:`url`, sharing ``database_url`` and ``redis_url``."""

    workdir: Path
    database_url: str
    redis_url: str
    instances: list[Instance] = field(default_factory=list)
    nginx: servers.Server | None = None
    nginx_port: int = 0
    tls_port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def tls_url(self) -> str:
        """nginx's TLS port (``running(tls=...)``), for the server name ``localhost``."""
        return f"https://localhost:{self.tls_port}"

    @property
    def env(self) -> dict[str, str]:
        """The settings every instance shares (and the CLI uses)."""
        return dict(self.instances[0].env)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``keystile ARGS`` against the cluster's database; fails the test on an error."""
        done = subprocess.run(
            [keystile_cli(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def upstream_conf(self) -> str:
        return "\n".join(f"        server 127.0.0.1:{i.port} max_fails=0;" for i in self.instances)


def tls_files(directory: Path) -> tuple[Pki, Path, Path]:
    """A test PKI and a server certificate and key for ``localhost`` issued by its CA (for
    ``running(tls=...)``; clients trust ``pki.ca.cert_path``)."""
    from cryptography.hazmat.primitives import serialization

    from app.services import ca

    pki = make_pki(directory / "pki")
    cert, key = ca.issue_server_certificate(pki.ca.as_authority(), hostnames=["localhost"])
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki, cert_path, key_path


def fresh_database(admin_url: str, name: str) -> str:
    """An empty PostgreSQL database ``name`` on the server of ``admin_url``; its URL."""
    base = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def running(
    workdir: Path,
    *,
    database_url: str,
    redis_url: str,
    count: int = 2,
    extra_env: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Cluster]:
    """Migrate the database, start ``count`` instances and nginx; stop them all on exit.
    ``tls`` (a server certificate and key files, for ``localhost``) adds nginx's TLS port.

    Redis is not flushed: other tests may be counting there at the same time. Tests that
    count (throttling) use names of their own."""
    ports = servers.free_ports(count + 2)
    env = {
        "KEYSTILE_ENV": "production",
        "KEYSTILE_SECRET_KEY": secrets.token_urlsafe(48),
        "KEYSTILE_DATABASE_URL": database_url,
        "KEYSTILE_REDIS_URL": redis_url,
        "KEYSTILE_ORIGIN": "https://localhost",
        "KEYSTILE_TRUSTED_PROXIES": "127.0.0.1",
        "KEYSTILE_CA_DIR": str(workdir / "ca"),
        "KEYSTILE_INSTANCE_PATH": str(workdir / "instance"),
        "KEYSTILE_CERT_HEADER_FORMAT": "nginx",
        **{f"KEYSTILE_{k.upper()}": str(v) for k, v in FAST_HASH.items()},
        **(extra_env or {}),
    }
    cluster = Cluster(workdir, database_url, redis_url, nginx_port=ports[0], tls_port=ports[1])
    cluster.instances = [
        Instance(chr(ord("a") + n), port, workdir / f"instance-{n}", dict(env))
        for n, port in enumerate(ports[2:])
    ]
    with contextlib.ExitStack() as stack:
        cluster.cli("db", "upgrade")
        for instance in cluster.instances:
            stack.callback(instance.stop)
            instance.start()
        prefix = workdir / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        tls_server = ""
        if tls is not None:
            tls_server = TLS_SERVER.format(
                port=cluster.tls_port,
                cert=tls[0],
                key=tls[1],
                gate=GATE.format(cert="$ssl_client_escaped_cert", verify="$ssl_client_verify"),
            )
        config.write_text(
            NGINX_CONF.format(
                prefix=prefix,
                port=cluster.nginx_port,
                servers=cluster.upstream_conf(),
                gate=GATE.format(cert='""', verify='""'),
                tls_server=tls_server,
            )
        )
        cmd, _ = servers.foreground_command("nginx", config, prefix)
        cluster.nginx = stack.enter_context(
            servers.Server(
                cmd,
                what="nginx",
                log=prefix / "stdout.log",
                probe=lambda: servers.answers(cluster.nginx_port),
            )
        ).wait()
        yield cluster

"""``keystile proxy-config``: print a reference configuration for a TLS-terminating proxy.

The configuration goes to standard output, complete and ready to run as is; nothing is
written anywhere. When ``KEYSTILE_PROXY_SECRET`` is set, the proxy must send it, so it is
written into the configuration and a reminder to protect the file goes to standard error.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.deploy import (
    DEFAULT_LOGIN_RATE,
    GATE_PROXIES,
    PROXIES,
    DeployError,
    ProxyOptions,
    render,
)
from app.web.context import settings


@click.command("proxy-config")
@click.argument("proxy", type=click.Choice(list(dict.fromkeys(PROXIES + GATE_PROXIES))))
@click.option(
    "--listen",
    required=True,
    metavar="HOST:PORT",
    help="Where the proxy accepts https, e.g. 0.0.0.0:443.",
)
@click.option(
    "--upstream",
    required=True,
    metavar="HOST:PORT|unix:PATH",
    help="Keystile's app server, on loopback (127.0.0.1:8000) or a unix socket "
    "(unix:/run/keystile/app.sock).",
)
@click.option("--tls-cert", required=True, metavar="FILE", help="The server certificate (PEM).")
@click.option("--tls-key", required=True, metavar="FILE", help="Its private key (PEM).")
@click.option(
    "--client-ca",
    metavar="FILE",
    help="Trusted client-certificate issuers (PEM): CA mode, as KEYSTILE_CLIENT_CA.",
)
@click.option(
    "--mode",
    type=click.Choice(["auto", "explicit"]),
    default="auto",
    show_default=True,
    help="As KEYSTILE_CERT_LOGIN.",
)
@click.option(
    "--cert-host",
    metavar="NAME",
    help="Explicit mode: the host name that asks for the certificate.",
)
@click.option(
    "--prefix",
    metavar="DIR",
    help="The proxy's pid file, logs and state [default: /var/lib/keystile/PROXY].",
)
@click.option(
    "--protect",
    multiple=True,
    metavar="HOST=UPSTREAM",
    help="Protect the site at UPSTREAM (HOST:PORT, plain http) as https://HOST "
    "with Keystile's forward-auth gate; repeatable. nginx, caddy, traefik "
    "and haproxy; see docs/forward-auth.md.",
)
@click.option(
    "--login-rate",
    type=click.IntRange(0, 100_000),
    default=DEFAULT_LOGIN_RATE,
    show_default=True,
    metavar="PER_SECOND",
    help="nginx, haproxy and traefik: password sign-ins a second (from all addresses "
    "together) the proxy lets through from browsers without a device token; 0 for no "
    "limit. About the argon2id verifications a second of Keystile's servers: see "
    "docs/proxies.md.",
)
@with_appcontext
def proxy_config(
    proxy: str,
    listen: str,
    upstream: str,
    tls_cert: str,
    tls_key: str,
    client_ca: str | None,
    mode: str,
    cert_host: str | None,
    prefix: str | None,
    protect: tuple[str, ...],
    login_rate: int,
) -> None:
    """Print a complete PROXY (nginx, apache, haproxy, caddy; traefik with --protect)
    configuration for Keystile."""
    s = settings()
    try:
        options = ProxyOptions.parse(
            proxy,
            listen=listen,
            upstream=upstream,
            tls_cert=tls_cert,
            tls_key=tls_key,
            client_ca=client_ca,
            mode=mode,
            cert_host=cert_host,
            prefix=prefix,
            secret=s.proxy_secret or None,
            secret_header=s.proxy_secret_header,
            protect=protect,
            login_rate=login_rate,
        )
    except DeployError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(render(options), nl=False)
    if options.secret:
        click.echo(
            "keystile: this configuration contains KEYSTILE_PROXY_SECRET; make it "
            "readable by the proxy only (chmod 600).",
            err=True,
        )


COMMANDS = [proxy_config]

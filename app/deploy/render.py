"""Render a proxy's reference configuration from ``ProxyOptions``.

The templates (``app/deploy/templates``) hold each proxy's grammar; this module decides
*what* they say, the same way for every proxy:

- which headers the proxy must remove from what the client sent: every certificate header
  of every format Keystile reads (``app.proxy`` refuses a request carrying another format's
  header, threat model A.4), every format's verdict headers and the shared-secret header;
- which headers it sets itself, named exactly as the matching ``app.proxy`` adapter reads
  them, so a renamed default can never drift from the configuration;
- which ``KEYSTILE_*`` settings the configuration is meant to be paired with;
- for each site given with ``--protect``, where the gate is asked, which identity headers are
  copied from its answer, and which path on that host belongs to Keystile (``GATE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

from app.deploy.options import (
    DEFAULT_LOGIN_RATE,
    DEFAULT_SECRET_HEADER,
    LOGIN_RATE_PROXIES,
    ProxyOptions,
    UnixSocket,
)
from app.proxy import FORMATS, all_known_certificate_headers, get_adapter
from app.proxy import apache as apache_format
from app.proxy import haproxy as haproxy_format
from app.proxy import nginx as nginx_format
from app.services.gate import HEADERS as IDENTITY_HEADERS
from app.web.devices import COOKIE as DEVICE_COOKIE

#: The headers each proxy sets besides the certificate header, by role, as the adapter of
#: its own format reads them.
_COMPANIONS: dict[str, dict[str, str]] = {
    "nginx": {"verify": nginx_format.VERIFY_HEADER},
    "apache": {"verify": apache_format.VERIFY_HEADER},
    "haproxy": {
        "used": haproxy_format.USED_HEADER,
        "chain": haproxy_format.CHAIN_HEADER,
        "verify": haproxy_format.VERIFY_HEADER,
    },
    "caddy": {},
    "traefik": {},
}
#: Spelled in capitals where the formats' documentation does.
_ACRONYMS = {"ssl": "SSL", "der": "DER"}
#: Each proxy's own file name in ``deploy/`` and in its documentation.
FILE_NAMES = {
    "nginx": "nginx.conf",
    "apache": "apache.conf",
    "haproxy": "haproxy.cfg",
    "caddy": "Caddyfile",
    "traefik": "traefik.yml",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("app.deploy", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701 - proxy configurations, not HTML
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Gate:
    """What every ``--protect`` rendering shares: the contract of docs/forward-auth.md."""

    #: nginx ``auth_request``: 401 + Location for a sign-in, which nginx turns into a redirect
    auth_request: str = "/api/authz/auth-request"
    #: Caddy, Traefik and HAProxy: a redirect for browser navigations, 401 for the rest
    forward_auth: str = "/api/authz/forward-auth"
    #: the single sign-on hand-off, on the protected host, answered by Keystile
    handoff: str = "/.keystile/handoff"
    #: copied from the gate's 200 onto the upstream request, always replacing the client's
    identity: tuple[str, ...] = IDENTITY_HEADERS
    #: every client spelling of an identity header: ``-``, ``_`` and ``.`` separators, which
    #: CGI, WSGI and PHP all read as ``REMOTE_USER`` and the like
    identity_pattern: str = "^remote[-_.]"


GATE = Gate()


@dataclass(frozen=True)
class LoginRate:
    """What the proxy answers to password sign-ins beyond ``--login-rate`` (docs/proxies.md,
    "A flood of password guesses")."""

    #: a browser that signed in to an account before holds this cookie and is not limited
    device_cookie: str = DEVICE_COOKIE
    #: the page instead of Keystile's, on one line and without double quotes, so that every
    #: proxy's grammar takes it as a quoted string
    page: str = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Busy - Keystile</title>"
        "<h1>Busy</h1><p>Too many password sign-ins are being tried at once. Wait a few "
        "seconds and <a href=/login>try again</a>, or sign in with a passkey or a "
        "certificate.</p></html>"
    )
    #: seconds, in ``Retry-After``
    retry_after: int = 2


LOGIN_RATE = LoginRate()

#: HAProxy's forward-auth action, loaded by a rendered configuration where it is installed.
HAPROXY_LUA = str(Path(__file__).resolve().parent / "templates" / "keystile_gate.lua")


def display_name(header: str) -> str:
    """``x-ssl-client-der`` -> ``X-SSL-Client-DER`` (header names are case-insensitive)."""
    return "-".join(_ACRONYMS.get(part, part.capitalize()) for part in header.split("-"))


@dataclass(frozen=True)
class Headers:
    """The header names one configuration removes and sets."""

    #: role (``cert``, ``verify``, ``used``, ``chain``, ``secret``) -> header the proxy sets
    own: dict[str, str]
    #: every other header a client could forge to look like a proxy's, removed
    strip: tuple[str, ...]
    #: all of the above; proxies whose "set" does not replace a client's value unset these
    every: tuple[str, ...]


def headers_for(options: ProxyOptions) -> Headers:
    """What ``options.proxy`` must remove and set; see the module docstring."""
    adapter = get_adapter(options.proxy)
    roles = {"cert": adapter.header_names[0], **_COMPANIONS[options.proxy]}
    if set(roles.values()) != set(adapter.header_names):
        raise RuntimeError(
            f"{options.proxy}: the configuration would not set every header "
            f"its adapter reads ({', '.join(adapter.header_names)})"
        )
    if options.secret:
        roles["secret"] = options.secret_header.lower()
    own = {role: display_name(name) for role, name in roles.items()}
    known = {name for fmt in FORMATS for name in get_adapter(fmt).header_names}
    known |= all_known_certificate_headers() | {options.secret_header.lower()}
    every = tuple(sorted(display_name(name) for name in known))
    owned = {name.lower() for name in own.values()}
    strip = tuple(name for name in every if name.lower() not in owned)
    return Headers(own=own, strip=strip, every=every)


def paired_settings(options: ProxyOptions) -> dict[str, str]:
    """The ``KEYSTILE_*`` settings a Keystile behind this configuration needs (besides
    ``KEYSTILE_PROXY_SECRET``, whose value is never repeated).

    The proxy connects from the upstream's own loopback address, or over the unix socket,
    whose peer the app server reports as the empty address that ``unix`` trusts.
    """
    upstream = options.upstream
    s = {
        "KEYSTILE_CERT_HEADER_FORMAT": options.proxy,
        "KEYSTILE_TRUSTED_PROXIES": "unix" if isinstance(upstream, UnixSocket) else upstream.host,
        "KEYSTILE_CERT_LOGIN": options.mode,
    }
    if options.mode == "explicit":
        port = "" if options.listen.port == 443 else f":{options.listen.port}"
        s["KEYSTILE_CERT_LOGIN_ORIGIN"] = f"https://{options.cert_host}{port}"
    if options.client_ca:
        s["KEYSTILE_CLIENT_CA"] = options.client_ca
    if options.secret and options.secret_header != DEFAULT_SECRET_HEADER:
        s["KEYSTILE_PROXY_SECRET_HEADER"] = options.secret_header
    return s


def command_line(options: ProxyOptions) -> str:
    """The ``keystile proxy-config`` invocation that renders ``options``."""
    parts = [
        "keystile proxy-config",
        options.proxy,
        "--listen",
        str(options.listen),
        "--upstream",
        str(options.upstream),
        "--tls-cert",
        options.tls_cert,
        "--tls-key",
        options.tls_key,
    ]
    if options.client_ca:
        parts += ["--client-ca", options.client_ca]
    if options.mode == "explicit":
        parts += ["--mode", "explicit", "--cert-host", options.cert_host or ""]
    parts += ["--prefix", options.prefix]
    if options.login_rate != DEFAULT_LOGIN_RATE and options.proxy in LOGIN_RATE_PROXIES:
        parts += ["--login-rate", str(options.login_rate)]
    for site in options.protect:
        parts += ["--protect", str(site)]
    return " ".join(parts)


def render(options: ProxyOptions) -> str:
    """The complete configuration file for ``options.proxy``."""
    template = _ENV.get_template(f"{options.proxy}.j2")
    return template.render(
        o=options,
        headers=headers_for(options),
        settings=paired_settings(options),
        command=command_line(options),
        gate=GATE,
        lua=HAPROXY_LUA,
        login=LOGIN_RATE,
    )

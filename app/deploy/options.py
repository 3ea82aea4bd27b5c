"""What an operator says about a proxy deployment, parsed and checked before any rendering.

Every value ends up inside a proxy's configuration grammar, so each is held to a plain,
quote-free shape here: a value that could close a string or a block in nginx, Apache,
HAProxy or a Caddyfile is refused instead of being escaped four different ways.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal, TypeAlias

from app.config import Settings

PROXIES: tuple[str, ...] = ("nginx", "apache", "haproxy", "caddy")
#: The proxies that can protect other sites with Keystile's forward-auth gate (``--protect``).
#: Traefik is rendered only as a gate, with Keystile's own pages on its catch-all router.
GATE_PROXIES: tuple[str, ...] = ("nginx", "caddy", "traefik", "haproxy")
Mode = Literal["auto", "explicit"]

#: A DNS name (RFC 1123 labels), as used in server_name, ServerName, SNI and site addresses.
_HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
#: Characters no proxy grammar gives a meaning to inside a bare path.
_PATH = re.compile(r"/[A-Za-z0-9._/+@=,-]*")
#: ``KEYSTILE_PROXY_SECRET_HEADER``'s default.
DEFAULT_SECRET_HEADER = Settings.proxy_secret_header
#: A shared secret written into a header value: base64url/base64 characters only.
_SECRET = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")


#: The longest unix socket path: ``sun_path`` (108 bytes on Linux) less its terminating NUL.
#: Apache's mod_proxy would silently cut a longer one short.
UNIX_SOCKET_PATH_MAX = 107
#: HAProxy's limit for a unix socket path: sun_path less room for its temporary names.
HAPROXY_SOCKET_PATH_MAX = 97
#: ``--login-rate``'s default: password sign-ins a second, from every address together, of
#: browsers that hold no device token (docs/proxies.md, "A flood of password guesses").
DEFAULT_LOGIN_RATE = 50
#: The proxies whose rendering carries the ``--login-rate`` lines.
LOGIN_RATE_PROXIES: tuple[str, ...] = ("nginx", "haproxy", "traefik")


class DeployError(ValueError):
    """An option that cannot be rendered safely; the message names it and says why."""


@dataclass(frozen=True)
class Endpoint:
    """A TCP address: an IP literal or a host name, and a port."""

    host: str
    port: int

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.host

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if self.is_ipv6 else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True)
class UnixSocket:
    """A unix socket the application server listens on (``gunicorn --bind unix:PATH``)."""

    path: str

    def __str__(self) -> str:
        """As ``--upstream`` and gunicorn's ``--bind`` spell it: ``unix:/run/keystile/app.sock``."""
        return f"unix:{self.path}"


#: Where the proxy sends requests: a loopback TCP address or a unix socket.
Upstream: TypeAlias = Endpoint | UnixSocket


def parse_endpoint(option: str, value: str) -> Endpoint:
    """``HOST:PORT`` or ``[IPv6]:PORT``.

    Raises:
        DeployError: anything else.
    """
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise DeployError(f"{option}: {host!r} is not an IPv6 address") from None
    elif not sep or not (_HOSTNAME.fullmatch(host) or _is_ipv4(host)):
        raise DeployError(f"{option} must be HOST:PORT (IPv6 as [ADDRESS]:PORT), not {value!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise DeployError(f"{option}: {port!r} is not a TCP port")
    return Endpoint(host, int(port))


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def upstream_endpoint(value: str) -> Endpoint:
    """The application server's address, which must be on loopback.

    Keystile trusts certificate headers by the raw socket peer (docs/proxies.md), so the app
    server must be reachable only from the proxy: a loopback address keeps it off the network.
    ``localhost`` is written as ``127.0.0.1`` so the proxy never picks an address family the
    app server does not listen on.

    Raises:
        DeployError: not a loopback address.
    """
    endpoint = parse_endpoint("--upstream", value)
    if endpoint.host == "localhost":
        endpoint = Endpoint("127.0.0.1", endpoint.port)
    if not endpoint.is_loopback:
        raise DeployError(
            f"--upstream {value}: the application server must listen on a loopback address "
            "(127.0.0.1 or [::1]) or a unix socket (unix:/PATH) so that only the proxy can "
            "reach it"
        )
    return endpoint


def unix_socket(value: str) -> UnixSocket:
    """``unix:/ABSOLUTE/PATH``: the application server's unix socket.

    Keystile trusts every connection on it (``KEYSTILE_TRUSTED_PROXIES=unix``), so the socket
    file, not an address, is what keeps other clients out. Its path is held to the same
    characters as every other path: none of them means anything in the four grammars that
    spell it around the path (nginx ``http://unix:PATH:``, Apache ``unix:PATH|http://...``,
    HAProxy's bare ``PATH`` and Caddy's ``unix/PATH``).

    Raises:
        DeployError: not an absolute path of plain characters, or longer than ``sun_path``.
    """
    path = absolute_path("--upstream", value.removeprefix("unix:"))
    if path == "/":
        raise DeployError(
            f"--upstream {value}: name the socket file, e.g. unix:/run/keystile/app.sock"
        )
    if len(path) > UNIX_SOCKET_PATH_MAX:
        raise DeployError(
            f"--upstream {value}: a unix socket path has at most {UNIX_SOCKET_PATH_MAX} characters"
        )
    return UnixSocket(path)


def upstream_address(value: str) -> Upstream:
    """``--upstream``: ``unix:/PATH`` (``unix_socket``) or a loopback ``HOST:PORT``
    (``upstream_endpoint``).

    Raises:
        DeployError: neither.
    """
    return unix_socket(value) if value.startswith("unix:") else upstream_endpoint(value)


def absolute_path(option: str, value: str) -> str:
    """An absolute path made only of characters every proxy grammar leaves alone.

    Raises:
        DeployError: a relative path, or one with spaces, quotes, ``;``, ``{``, ``$``...
    """
    path = str(PurePosixPath(value))
    if not path.startswith("/"):
        raise DeployError(f"{option}: {value!r} must be an absolute path")
    if not _PATH.fullmatch(path) or "/../" in f"{path}/":
        raise DeployError(
            f"{option}: {value!r} contains characters that proxy configurations would "
            "misread; use letters, digits and . _ - + @ = , only"
        )
    return path


def hostname(option: str, value: str) -> str:
    if not _HOSTNAME.fullmatch(value) or value.replace(".", "").isdigit():
        raise DeployError(f"{option}: {value!r} is not a DNS host name")
    return value.lower()


def proxy_secret(value: str) -> str:
    if not _SECRET.fullmatch(value):
        raise DeployError(
            "KEYSTILE_PROXY_SECRET cannot be written into a proxy configuration: use 16 to "
            "256 characters of A-Z a-z 0-9 . _ ~ + / = -"
        )
    return value


@dataclass(frozen=True)
class Protected:
    """A site behind the gate (``--protect HOST=UPSTREAM``): requests for ``host`` are
    checked with Keystile, then passed to ``upstream``."""

    host: str
    upstream: Endpoint

    def __str__(self) -> str:
        return f"{self.host}={self.upstream}"


def protected_site(value: str) -> Protected:
    """``--protect HOST=UPSTREAM``: a DNS name and the site's ``HOST:PORT`` (plain http; the
    site may be on another machine, it never sees a certificate header).

    Raises:
        DeployError: not of that shape.
    """
    host, sep, upstream = value.partition("=")
    if not sep or not host or not upstream:
        raise DeployError(
            f"--protect {value!r}: expected HOST=UPSTREAM, e.g. wiki.example.com=127.0.0.1:3000"
        )
    return Protected(hostname("--protect", host), parse_endpoint("--protect", upstream))


@dataclass(frozen=True, kw_only=True)
class ProxyOptions:
    """Everything a reference configuration depends on. Build it with ``ProxyOptions.parse``."""

    proxy: str
    listen: Endpoint
    upstream: Upstream
    tls_cert: str
    tls_key: str
    #: PEM bundle of trusted client-certificate issuers: CA mode (``KEYSTILE_CLIENT_CA``)
    client_ca: str | None = None
    mode: Mode = "auto"
    #: explicit mode: the host name that requests the certificate
    cert_host: str | None = None
    #: where the proxy keeps its pid file, logs and temporary files
    prefix: str
    #: the ``KEYSTILE_PROXY_SECRET`` the proxy adds to every request, when one is configured
    secret: str | None = None
    secret_header: str = DEFAULT_SECRET_HEADER
    #: the sites the gate protects, in the order given
    protect: tuple[Protected, ...] = ()
    #: password sign-ins a second from browsers without a device token (0: no such line)
    login_rate: int = DEFAULT_LOGIN_RATE

    @classmethod
    def parse(
        cls,
        proxy: str,
        *,
        listen: str,
        upstream: str,
        tls_cert: str,
        tls_key: str,
        client_ca: str | None = None,
        mode: str = "auto",
        cert_host: str | None = None,
        prefix: str | None = None,
        secret: str | None = None,
        secret_header: str = DEFAULT_SECRET_HEADER,
        protect: Sequence[str] = (),
        login_rate: int = DEFAULT_LOGIN_RATE,
    ) -> ProxyOptions:
        """Check every option; see the module docstring for why values are so constrained.

        Raises:
            DeployError: the first option that is wrong, by name.
        """
        if proxy not in PROXIES + GATE_PROXIES:
            known = ", ".join(dict.fromkeys(PROXIES + GATE_PROXIES))
            raise DeployError(f"unknown proxy {proxy!r}; expected one of {known}")
        if mode not in ("auto", "explicit"):
            raise DeployError(f"--mode must be auto or explicit, not {mode!r}")
        if (mode == "explicit") != (cert_host is not None):
            raise DeployError("--cert-host NAME is required with --mode explicit, and only then")
        if not 0 <= login_rate <= 100_000:
            raise DeployError(f"--login-rate must be 0 (off) to 100000 a second, not {login_rate}")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", secret_header):
            raise DeployError(f"KEYSTILE_PROXY_SECRET_HEADER {secret_header!r} is not a token")
        options = cls(
            proxy=proxy,
            listen=parse_endpoint("--listen", listen),
            upstream=upstream_address(upstream),
            tls_cert=absolute_path("--tls-cert", tls_cert),
            tls_key=absolute_path("--tls-key", tls_key),
            client_ca=absolute_path("--client-ca", client_ca) if client_ca else None,
            mode="explicit" if mode == "explicit" else "auto",
            cert_host=hostname("--cert-host", cert_host) if cert_host else None,
            prefix=absolute_path("--prefix", prefix or f"/var/lib/keystile/{proxy}"),
            secret=proxy_secret(secret) if secret else None,
            secret_header=secret_header,
            protect=tuple(
                protected_site(value)
                for value in ([protect] if isinstance(protect, str) else protect)
            ),
            login_rate=login_rate,
        )
        _check_protected(options)
        if proxy == "haproxy":
            _check_haproxy(options)
        return options

    @property
    def upstream_socket(self) -> str | None:
        """The application server's unix socket path, or None when it listens on TCP."""
        return self.upstream.path if isinstance(self.upstream, UnixSocket) else None

    def haproxy_socket(self, name: str) -> str:
        """Explicit mode, HAProxy: the unix socket of the ``main`` or ``cert`` frontend."""
        return f"{self.prefix}/{name}.sock"


def _check_protected(options: ProxyOptions) -> None:
    """``--protect`` is rendered for the gate's proxies only, each host once, and never for
    Keystile's own certificate host; Traefik is rendered only as a gate (auto mode)."""
    if options.protect and options.proxy not in GATE_PROXIES:
        raise DeployError(
            f"--protect: {options.proxy} is not rendered as a gate; use one of "
            f"{', '.join(GATE_PROXIES)}"
        )
    if options.proxy not in PROXIES and not options.protect:
        raise DeployError(
            f"{options.proxy} is rendered only as a gate: name the sites it "
            "protects with --protect HOST=UPSTREAM"
        )
    if options.proxy not in PROXIES and options.mode == "explicit":
        raise DeployError(f"--mode explicit is not rendered for {options.proxy}; use auto")
    if options.proxy not in PROXIES and options.upstream_socket:
        raise DeployError(
            f"--upstream {options.upstream}: {options.proxy} is rendered for a "
            "loopback HOST:PORT only"
        )
    if (
        options.protect
        and options.proxy == "haproxy"
        and (options.mode == "explicit" or options.upstream_socket)
    ):
        raise DeployError(
            "--protect: HAProxy's gate is rendered for --mode auto and a "
            "loopback --upstream HOST:PORT only"
        )
    seen: set[str] = set()
    for site in options.protect:
        if site.host in seen:
            raise DeployError(f"--protect {site}: {site.host} is protected twice")
        if site.host == options.cert_host:
            raise DeployError(f"--protect {site}: {site.host} is Keystile's certificate host")
        seen.add(site.host)


def _check_haproxy(options: ProxyOptions) -> None:
    """HAProxy 2.6 has no directive naming a key file: the key is inside the certificate
    file, or next to it as ``<name>.key`` (``ssl-load-extra-del-ext``, configuration manual
    §3.1). Explicit mode puts unix sockets under the prefix, whose paths are bounded, and so
    are those of an upstream socket."""
    if options.upstream_socket and len(options.upstream_socket) > HAPROXY_SOCKET_PATH_MAX:
        raise DeployError(
            f"--upstream {options.upstream}: HAProxy takes unix socket paths of at most "
            f"{HAPROXY_SOCKET_PATH_MAX} characters"
        )
    if options.mode == "explicit" and len(options.haproxy_socket("main")) > (
        HAPROXY_SOCKET_PATH_MAX
    ):
        raise DeployError(
            f"--prefix {options.prefix} is too long for HAProxy's unix sockets (at most "
            f"{HAPROXY_SOCKET_PATH_MAX - len('/main.sock')} characters)"
        )
    cert = PurePosixPath(options.tls_cert)
    if options.tls_key not in (options.tls_cert, str(cert.with_suffix(".key"))):
        raise DeployError(
            f"--tls-key: HAProxy reads the key from the certificate file or from "
            f"{cert.with_suffix('.key')}; move the key there or append it to --tls-cert"
        )

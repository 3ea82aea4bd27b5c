"""One adapter per proxy header format: forwarded client-certificate headers -> certificate.

Adapters are pure: no request globals, no database, no configuration. The caller decides
whether the request came from a configured proxy (by the raw socket peer) before calling
``extract``, and re-validates whatever certificate comes back.

Usage::

    source = get_adapter("nginx")
    try:
        forwarded = source.extract(list(request.headers.items()))
    except ProxyHeaderError as exc:
        ...  # 4xx page and an audit row with exc.code
"""

from __future__ import annotations

from app.proxy.adapter import HeaderAdapter
from app.proxy.apache import ApacheAdapter
from app.proxy.aws_alb import AwsAlbAdapter
from app.proxy.base import CertificateSource, ForwardedCertificate, ProxyHeaderError
from app.proxy.caddy import CaddyAdapter
from app.proxy.envoy import EnvoyAdapter
from app.proxy.haproxy import HAProxyAdapter
from app.proxy.nginx import NginxAdapter
from app.proxy.rfc9440 import Rfc9440Adapter
from app.proxy.traefik import TraefikAdapter

__all__ = [
    "FORMATS",
    "CertificateSource",
    "ForwardedCertificate",
    "ProxyHeaderError",
    "all_known_certificate_headers",
    "get_adapter",
]

FORMATS: tuple[str, ...] = (
    "nginx",
    "apache",
    "haproxy",
    "caddy",
    "envoy",
    "traefik",
    "aws-alb",
    "rfc9440",
)

_ADAPTERS: dict[str, type[HeaderAdapter]] = {
    adapter.format_name: adapter
    for adapter in (
        NginxAdapter,
        ApacheAdapter,
        HAProxyAdapter,
        CaddyAdapter,
        EnvoyAdapter,
        TraefikAdapter,
        AwsAlbAdapter,
        Rfc9440Adapter,
    )
}

_KNOWN_CERTIFICATE_HEADERS = frozenset(
    header for adapter in _ADAPTERS.values() for header in adapter.certificate_headers
)


def all_known_certificate_headers() -> frozenset[str]:
    """Lower-case default names of every format's certificate-carrying headers."""
    return _KNOWN_CERTIFICATE_HEADERS


def get_adapter(fmt: str, *, header: str | None = None) -> CertificateSource:
    """The adapter for one format.

    Args:
        fmt: one of ``FORMATS``.
        header: overrides the name of the header carrying the leaf certificate (any case).
            The format's default name then counts as a foreign header.

    Raises:
        ValueError: for an unknown format or an unusable header name.
    """
    try:
        adapter = _ADAPTERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown proxy header format {fmt!r}; expected one of {', '.join(FORMATS)}"
        ) from None
    return adapter(known_certificate_headers=_KNOWN_CERTIFICATE_HEADERS, header=header)

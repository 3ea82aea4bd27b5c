"""Take the original scheme from ``X-Forwarded-Proto``, but only from a trusted proxy.

Werkzeug's ProxyFix trusts whoever connects; this middleware first checks that the raw
socket peer is one of ``KEYSTILE_TRUSTED_PROXIES`` (proxy-headers.md, "The one rule"), so
HSTS, ``request.is_secure`` and external URLs are right behind a TLS-terminating proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from app.config import IPNetwork

#: the scheme of the connection Keystile itself received, before any rewriting
TRANSPORT_SCHEME = "keystile.transport_scheme"


class TrustedProxyScheme:
    def __init__(self, wsgi_app: Any, networks: Iterable[IPNetwork]) -> None:
        self.wsgi_app = wsgi_app
        self.networks = tuple(networks)

    def _trusted(self, peer: str) -> bool:
        try:
            addr = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[TRANSPORT_SCHEME] = environ.get("wsgi.url_scheme", "http")
        if self.networks and self._trusted(str(environ.get("REMOTE_ADDR", ""))):
            proto = str(environ.get("HTTP_X_FORWARDED_PROTO", "")).split(",")[-1].strip()
            if proto.lower() in {"http", "https"}:
                environ["wsgi.url_scheme"] = proto.lower()
        return self.wsgi_app(environ, start_response)

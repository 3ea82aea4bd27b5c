"""Take the original scheme from ``X-Forwarded-Proto``, but only from a trusted proxy.

Werkzeug's ProxyFix trusts whoever connects; this middleware first checks that the raw
socket peer is one of ``KEYSTILE_TRUSTED_PROXIES`` (docs/proxies.md, "The one rule"), so
HSTS, ``request.is_secure`` and external URLs are right behind a TLS-terminating proxy.
"""

from __future__ import annotations

from typing import Any

from app.config import TrustedPeers

#: the scheme of the connection Keystile itself received, before any rewriting
TRANSPORT_SCHEME = "keystile.transport_scheme"


class TrustedProxyScheme:
    def __init__(self, wsgi_app: Any, trusted: TrustedPeers) -> None:
        self.wsgi_app = wsgi_app
        self.trusted = trusted

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[TRANSPORT_SCHEME] = environ.get("wsgi.url_scheme", "http")
        if self.trusted and self.trusted.trust(str(environ.get("REMOTE_ADDR") or "")):
            proto = str(environ.get("HTTP_X_FORWARDED_PROTO", "")).split(",")[-1].strip()
            if proto.lower() in {"http", "https"}:
                environ["wsgi.url_scheme"] = proto.lower()
        return self.wsgi_app(environ, start_response)

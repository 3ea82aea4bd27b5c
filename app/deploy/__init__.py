"""Reference configurations for the TLS-terminating proxies in front of Keystile.

``keystile proxy-config`` prints them; ``deploy/`` keeps rendered copies (see
``app.deploy.reference``); docs/proxies.md explains each one.

Usage::

    options = ProxyOptions.parse("nginx", listen="0.0.0.0:443", upstream="127.0.0.1:8000",
                                 tls_cert="/etc/keystile/tls/server.crt",
                                 tls_key="/etc/keystile/tls/server.key")
    print(render(options))

``upstream`` may also be a unix socket, ``unix:/run/keystile/app.sock``. ``protect``
(``["wiki.example.com=127.0.0.1:3000"]``) adds the sites the forward-auth gate protects
(docs/forward-auth.md); Traefik is rendered only with it.
"""

from __future__ import annotations

from app.deploy.options import (
    DEFAULT_LOGIN_RATE,
    GATE_PROXIES,
    PROXIES,
    DeployError,
    Endpoint,
    Protected,
    ProxyOptions,
    UnixSocket,
)
from app.deploy.render import FILE_NAMES, paired_settings, render

__all__ = [
    "DEFAULT_LOGIN_RATE",
    "FILE_NAMES",
    "GATE_PROXIES",
    "PROXIES",
    "DeployError",
    "Endpoint",
    "Protected",
    "ProxyOptions",
    "UnixSocket",
    "paired_settings",
    "render",
]

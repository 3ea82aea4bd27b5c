"""Reference configurations for the TLS-terminating proxies in front of Keystile.

``keystile proxy-config`` prints them; ``deploy/`` keeps rendered copies (see
``app.deploy.reference``); docs/proxies.md explains each one.

Usage::

    options = ProxyOptions.parse("nginx", listen="0.0.0.0:443", upstream="127.0.0.1:8000",
                                 tls_cert="/etc/keystile/tls/server.crt",
                                 tls_key="/etc/keystile/tls/server.key")
    print(render(options))

``upstream`` may also be a unix socket, ``unix:/run/keystile/app.sock``.
"""

from __future__ import annotations

from app.deploy.options import PROXIES, DeployError, Endpoint, ProxyOptions, UnixSocket
from app.deploy.render import FILE_NAMES, paired_settings, render

__all__ = [
    "FILE_NAMES",
    "PROXIES",
    "DeployError",
    "Endpoint",
    "ProxyOptions",
    "UnixSocket",
    "paired_settings",
    "render",
]

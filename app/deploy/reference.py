"""The reference configurations kept in ``deploy/``, rendered for example paths and names.

A test compares the committed files with ``reference_configs()``, so they never drift from
the templates. After changing a template, write them again::

    python -m app.deploy.reference            # into deploy/ of this checkout
    python -m app.deploy.reference DIRECTORY
"""

from __future__ import annotations

import sys
from pathlib import Path, PurePosixPath
from typing import Any

from app.deploy.options import PROXIES, ProxyOptions
from app.deploy.render import FILE_NAMES, render

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
EXAMPLE: dict[str, Any] = {
    "listen": "0.0.0.0:443",
    "upstream": "127.0.0.1:8000",
    "tls_cert": "/etc/keystile/tls/server.crt",
    "tls_key": "/etc/keystile/tls/server.key",
}
EXAMPLE_CLIENT_CA = "/etc/keystile/tls/client-ca.pem"
EXAMPLE_CERT_HOST = "cert.login.example.org"
#: file-name suffix -> what it changes from the default (auto mode, pinned keys)
VARIANTS: dict[str, dict[str, Any]] = {
    "": {},
    "-explicit": {"mode": "explicit", "cert_host": EXAMPLE_CERT_HOST},
    "-ca": {"client_ca": EXAMPLE_CLIENT_CA},
}


def file_name(proxy: str, variant: str) -> str:
    """``nginx.conf``, ``nginx-explicit.conf``, ``Caddyfile-ca``..."""
    name = PurePosixPath(FILE_NAMES[proxy])
    return f"{name.stem}{variant}{name.suffix}"


def reference_configs() -> dict[str, str]:
    """File name in ``deploy/`` -> its content."""
    return {
        file_name(proxy, variant): render(ProxyOptions.parse(proxy, **EXAMPLE, **changes))
        for proxy in PROXIES
        for variant, changes in VARIANTS.items()
    }


def main(argv: list[str]) -> None:
    directory = Path(argv[0]) if argv else DEPLOY_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in reference_configs().items():
        (directory / name).write_text(text)
        print(directory / name)


if __name__ == "__main__":
    main(sys.argv[1:])

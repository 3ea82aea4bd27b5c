"""The client's address and identity as far as this request can tell.

The raw socket peer decides whether a request came through a configured proxy; only then
is the proxy's ``X-Forwarded-For`` (its right-most entry, the one the proxy itself added)
taken as the client's address. Nothing is ever judged from a header a client could send
straight to the app (docs/proxies.md, threat model A.3).
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
from collections.abc import Mapping
from typing import Any

from flask import current_app, g, request

from app.config import TrustedPeers
from app.services.audit import Client


def raw_peer_of(environ: Mapping[str, Any]) -> str:
    """The TCP peer of a request, before any proxy-fixing middleware."""
    orig = environ.get("werkzeug.proxy_fix.orig")
    if orig and orig.get("REMOTE_ADDR"):
        return str(orig["REMOTE_ADDR"])
    return str(environ.get("REMOTE_ADDR") or "")


def address_of(peer: str, forwarded_for: str, trusted: TrustedPeers) -> str:
    """The client's address: the peer's, or the trusted proxy's right-most forwarded one."""
    if trusted.trust(peer):
        forwarded = forwarded_for.split(",")[-1].strip()
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(forwarded))
    return peer


def throttle_key_of(address: str) -> str:
    """The client address as throttling counts it: an IPv6 client by its /64, which one
    subscriber usually holds whole (RFC 6177) and could otherwise rotate through."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def request_id_of(incoming: str, *, from_trusted_proxy: bool) -> str:
    """The proxy's request id when a trusted proxy sent a sane one, else a new one."""
    if from_trusted_proxy and 0 < len(incoming) <= 64 and incoming.isprintable():
        return incoming
    return secrets.token_hex(8)


def user_agent_of(header: str) -> str:
    # NUL is dropped: PostgreSQL refuses it in text, and the agent is stored as text.
    return header.replace("\x00", "")[:512]


# -- the same, for the Flask request being served --------------------------------------


def raw_peer() -> str:
    return raw_peer_of(request.environ)


def peer_is_trusted_proxy() -> bool:
    trusted: TrustedPeers = current_app.extensions["keystile.settings"].trusted_proxies
    return trusted.trust(raw_peer())


def client_address() -> str:
    if "client_address" in g:
        return str(g.client_address)
    trusted: TrustedPeers = current_app.extensions["keystile.settings"].trusted_proxies
    g.client_address = address_of(raw_peer(), request.headers.get("X-Forwarded-For", ""), trusted)
    return str(g.client_address)


def throttle_key() -> str:
    """The key of per-address limits: :func:`throttle_key_of` this request's client."""
    return throttle_key_of(client_address())


def request_id() -> str:
    if "request_id" not in g:
        g.request_id = request_id_of(
            request.headers.get("X-Request-Id", ""), from_trusted_proxy=peer_is_trusted_proxy()
        )
    return str(g.request_id)


def current_client() -> Client:
    return Client(
        address=client_address(),
        user_agent=user_agent_of(request.headers.get("User-Agent", "")),
        request_id=request_id(),
    )

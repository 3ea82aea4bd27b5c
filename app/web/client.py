"""The client's address and identity as far as this request can tell.

The raw socket peer decides whether a request came through a configured proxy; only then
is the proxy's ``X-Forwarded-For`` (its right-most entry, the one the proxy itself added)
taken as the client's address. Nothing is ever judged from a header a client could send
straight to the app (proxy-headers.md, threat model A.3).
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets

from flask import current_app, g, request

from app.config import TrustedPeers
from app.services.audit import Client


def raw_peer() -> str:
    """The TCP peer of this request, before any proxy-fixing middleware."""
    orig = request.environ.get("werkzeug.proxy_fix.orig")
    if orig and orig.get("REMOTE_ADDR"):
        return str(orig["REMOTE_ADDR"])
    return str(request.environ.get("REMOTE_ADDR") or "")


def peer_is_trusted_proxy() -> bool:
    trusted: TrustedPeers = current_app.extensions["keystile.settings"].trusted_proxies
    return trusted.trust(raw_peer())


def client_address() -> str:
    if "client_address" in g:
        return str(g.client_address)
    address = raw_peer()
    if peer_is_trusted_proxy():
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        with contextlib.suppress(ValueError):
            address = str(ipaddress.ip_address(forwarded))
    g.client_address = address
    return address


def throttle_key() -> str:
    """The client address as throttling counts it: an IPv6 client by its /64, which one
    subscriber usually holds whole (RFC 6177) and could otherwise rotate through."""
    address = client_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def request_id() -> str:
    if "request_id" not in g:
        incoming = request.headers.get("X-Request-Id", "")
        ok = peer_is_trusted_proxy() and 0 < len(incoming) <= 64 and incoming.isprintable()
        g.request_id = incoming if ok else secrets.token_hex(8)
    return str(g.request_id)


def current_client() -> Client:
    return Client(
        address=client_address(),
        # NUL is dropped: PostgreSQL refuses it in text, and the agent is stored as text.
        user_agent=request.headers.get("User-Agent", "").replace("\x00", "")[:512],
        request_id=request_id(),
    )

"""Host names in access rules and in requests.

A rule names a host exactly (``wiki.example.com``) or every name below a domain
(``*.example.com``: ``a.example.com`` and ``a.b.example.com``, not ``example.com``).
Names compare in ASCII lower case without a trailing dot (RFC 4343); an internationalised
name is written as its A-label (``xn--...``, RFC 5890), so no Unicode folding is involved.
A request's port is not part of the name a rule matches.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class BadHost(ValueError):
    """Not a host name a rule can name or a request can carry."""


def rule_host(raw: str) -> str:
    """A rule's host pattern in canonical form (``*.`` kept for a wildcard).

    Raises:
        BadHost: with a sentence saying what is wrong.
    """
    name = raw.strip().lower().rstrip(".")
    wildcard = name.startswith("*.")
    bare = name[2:] if wildcard else name
    if "*" in bare:
        raise BadHost(f"{raw!r}: a wildcard is allowed only as the first label (*.example.com)")
    if ":" in bare and not _is_ip(bare):
        raise BadHost(f"{raw!r}: name the host without a port")
    if not (_is_ip(bare) and not wildcard) and (not bare.isascii() or not _NAME.fullmatch(bare)):
        raise BadHost(f"{raw!r} is not a host name (write an international name as xn--...)")
    return name


def request_host(raw: str) -> str:
    """The host name of a request's ``Host`` / ``X-Forwarded-Host`` value, port removed.

    Raises:
        BadHost: the value is not one host name (with an optional port).
    """
    value = raw.strip().lower()
    if value.startswith("["):
        inside, _, rest = value[1:].partition("]")
        if rest and not (rest.startswith(":") and _is_port(rest[1:])):
            raise BadHost("bad port")
        if not _is_ip(inside):
            raise BadHost("not an IPv6 literal")
        return inside
    name, colon, port = value.partition(":")
    if colon and not _is_port(port):
        raise BadHost("bad port")
    name = name.rstrip(".")
    # The name rule first: it also covers IPv4 literals, and is cheap.
    if (name.isascii() and _NAME.fullmatch(name)) or _is_ip(name):
        return name
    raise BadHost("not a host name")


def suffixes(host: str) -> list[str]:
    """The domains a ``*.`` pattern may name for ``host``: for ``a.b.example.com``,
    ``b.example.com``, ``example.com`` and ``com``."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


def _is_port(text: str) -> bool:
    return text.isdigit() and len(text) <= 5 and int(text) <= 65535


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True

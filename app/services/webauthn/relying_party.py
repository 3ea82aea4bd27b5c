"""Who we are to the authenticator: :class:`RelyingParty` holds the RP ID, the name some
authenticators show and the exact origins a response may come from, normalised to the browser's
serialisation and checked against the RP ID when it is built (§5.1.4.1, §13.4.9).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class RelyingParty:
    """Who we are to the authenticator.

    Attributes:
        id: the RP ID, a registrable domain such as ``example.org`` (§5.1.4, §13.4.9).
        name: shown by some authenticators while creating a credential.
        origins: every origin a response may come from, compared exactly (scheme, host and
            port, §7.1 step 9 / §7.2 step 12). Written as origins, e.g.
            ``https://login.example.org`` or ``http://localhost:8080``; they are normalised to
            the browser's serialisation (lower case, default port dropped, no trailing slash).
    """

    id: str
    name: str
    origins: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.id or self.id != self.id.strip().lower() or "/" in self.id:
            raise ValueError(f"RP ID must be a lower-case domain, not {self.id!r}")
        if not self.name:
            raise ValueError("RP name must not be empty")
        if isinstance(self.origins, str) or not self.origins:
            raise ValueError("origins must be a non-empty tuple of origins")
        origins = tuple(_canonical_origin(o) for o in self.origins)
        for origin in origins:
            host = urlsplit(origin).hostname or ""
            # §5.1.4.1 / §13.4.9: the RP ID must equal the origin's host or be a suffix of it.
            if host != self.id and not host.endswith("." + self.id):
                raise ValueError(f"origin {origin} is not within RP ID {self.id!r}")
        object.__setattr__(self, "origins", origins)


def _canonical_origin(origin: str) -> str:
    """The browser's serialisation of an origin (what clientDataJSON.origin holds)."""
    parts = urlsplit(origin.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"origin {origin!r} has an invalid port") from exc
    if (
        scheme not in ("https", "http")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"{origin!r} is not an origin such as https://login.example.org")
    host = parts.hostname  # lower-cased by urlsplit
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")

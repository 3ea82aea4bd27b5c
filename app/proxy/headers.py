"""The checks every format shares, applied to the raw header list before any decoding.

Threat model A.4: a request carrying the certificate header twice, or a certificate header of
another proxy format, is refused; sources are never combined. Size limits are enforced here so
no decoder ever sees an oversized value (A.6).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from app.proxy.base import ProxyHeaderError

#: Printable ASCII including space. Proxies forward only ASCII in these headers.
_VISIBLE_ASCII = re.compile(r"[ -~]*")


class ReceivedHeaders:
    """The values of the headers one adapter reads, each present at most once."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def collect(
        cls,
        headers: Iterable[tuple[str, str]],
        *,
        limits: Mapping[str, int],
        foreign: frozenset[str],
        repeatable: frozenset[str] = frozenset(),
    ) -> ReceivedHeaders:
        """Pick the adapter's headers out of the raw list, refusing what no format allows.

        Args:
            headers: ``(name, value)`` pairs as received; names in any case, maybe repeated.
            limits: lower-case name of every header the adapter reads -> maximum value length.
            foreign: lower-case names of other formats' certificate headers.
            repeatable: list-valued headers that may be split over several field lines; their
                lines are joined with ", " (RFC 9110 §5.3) and the limit applies to the result.

        Raises:
            ProxyHeaderError: ``foreign_header``, ``ambiguous_header``, ``duplicate_header``
                or ``too_large``, checked in that order whatever the order of the headers.
        """
        occurrences: dict[str, list[tuple[str, str]]] = {}
        foreign_seen: list[str] = []
        for raw_name, raw_value in headers:
            name = raw_name.lower()
            # A WSGI server maps "X-A_B" and "X-A-B" to the same environ key; treat them as one.
            canonical = name.replace("_", "-")
            if canonical in foreign:
                foreign_seen.append(canonical)
            elif canonical in limits:
                occurrences.setdefault(canonical, []).append((name, raw_value))

        if foreign_seen:
            raise ProxyHeaderError("foreign_header", header=min(foreign_seen))
        for canonical, found in sorted(occurrences.items()):
            if any(name != canonical for name, _ in found):
                # nginx and gunicorn >= 22 drop underscore spellings; anything else merges them.
                raise ProxyHeaderError("ambiguous_header", header=canonical)
        for canonical, found in sorted(occurrences.items()):
            if len(found) > 1 and canonical not in repeatable:
                raise ProxyHeaderError("duplicate_header", header=canonical)
        values: dict[str, str] = {}
        for canonical, found in sorted(occurrences.items()):
            if sum(len(value) for _, value in found) > limits[canonical]:
                raise ProxyHeaderError("too_large", header=canonical)
            values[canonical] = ", ".join(value for _, value in found)
        return cls(values)

    def value(self, name: str) -> str | None:
        """The header's value without surrounding whitespace; None when absent or empty."""
        raw = self._values.get(name)
        if raw is None:
            return None
        value = raw.strip(" \t")
        if not value:
            return None
        if not _VISIBLE_ASCII.fullmatch(value):
            raise ProxyHeaderError(
                "malformed", "The header contains characters a proxy never sends.", header=name
            )
        return value

    def single_value(self, name: str) -> str | None:
        """Like ``value`` for a header whose grammar has no comma.

        A WSGI server joins a repeated header into one value with commas (gunicorn, Werkzeug),
        so a comma here is how a duplicate shows up once the raw list is gone.
        """
        value = self.value(name)
        if value is not None and "," in value:
            raise ProxyHeaderError(
                "duplicate_header",
                "A client certificate header carries several comma-joined values.",
                header=name,
            )
        return value

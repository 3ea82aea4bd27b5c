"""The rules that name one host, indexed by path prefix.

First match wins, in file order. Trying a host's rules one by one costs as many tries as
the host has rules; instead the index keys every plain prefix rule by its prefix (without
its trailing slash, as :meth:`Rule.matches` compares it), so a path finds the prefix rules
that can cover it with one dictionary look-up per ``/`` in it (``/a/b`` looks up ``""``,
``/a`` and ``/a/b``). Rules without prefixes (a regular expression, or no paths at all)
are still tried in file order, but only those before the first prefix rule that matched.

The index only narrows: every rule it proposes is confirmed by :meth:`Rule.matches`, the
one definition of a match, so it can make a rule be tried later, never a different rule win.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services.access.rules import Rule


class HostRules:
    """A host's rules in file order, with the prefix index."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        by_base: dict[str, list[int]] = defaultdict(list)
        scanned: list[tuple[int, Rule]] = []
        for position, rule in enumerate(rules):
            for base in sorted({prefix.rstrip("/") for prefix in rule.prefixes}):
                by_base[base].append(position)
            if rule.patterns or not rule.prefixes:
                scanned.append((position, rule))
        #: prefix (no trailing slash) -> positions of the rules naming it, ascending
        self._by_base = dict(by_base)
        #: the longest prefix: no look-up is needed for a longer part of a path
        self._longest = max((len(base) for base in self._by_base), default=-1)
        #: rules the index cannot place (regular expressions, no paths), in file order
        self._scanned = tuple(scanned)

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(self, path: str, method: str) -> Rule | None:
        """The first rule in file order that matches ``path`` and ``method``, or None."""
        best: int | None = None
        for base in self._bases(path):
            for position in self._by_base.get(base, ()):
                if best is not None and position >= best:
                    break
                if self.rules[position].matches(path, method):
                    best = position
                    break
        for position, rule in self._scanned:
            if best is not None and position >= best:
                break
            if rule.matches(path, method):
                return rule
        return None if best is None else self.rules[best]

    def _bases(self, path: str) -> list[str]:
        """Every prefix base that covers ``path`` by whole segments: ``path`` itself and
        each part of it that a ``/`` follows, up to the longest prefix indexed."""
        found = [path] if len(path) <= self._longest else []
        end = path.find("/")
        while 0 <= end <= self._longest:
            found.append(path[:end])
            end = path.find("/", end + 1)
        return found

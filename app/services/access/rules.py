"""Access rules: the TOML file named by ``KEYSTILE_ACCESS_RULES``, parsed and checked once.

The file (read with :mod:`tomllib`)::

    default = "deny"                 # or "bypass": what applies when no rule matches
    [[rule]]
    hosts = ["wiki.example.com"]     # exact, or "*.example.com"
    paths = ["/public/"]             # prefixes by whole segments; "re:^/api/v[0-9]+/"
    methods = ["POST"]               # optional
    groups = ["ops"]                 # optional; also users = [...], roles = [...]
    policy = "bypass"                # or "deny"; or instead:
    require = { strength = "hardware-key", max_age = "15m" }

Every mistake stops start-up with a message naming the rule (``rule 2``, counting from 1
in file order) and the field. Host patterns are indexed, so finding the rules that can
apply to a request costs one dictionary look-up per label of its host name, however many
rules there are; those rules are indexed in turn by path prefix
(:mod:`app.services.access.index`), first match in file order still winning.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.models import GROUP_NAME, Role, Strength, normalize_username
from app.services.access import hosts
from app.services.access.index import HostRules
from app.services.access.patterns import UnsafePattern, compile_path_pattern
from app.services.access.strengths import strength_by_name, strength_name

REGEX_PREFIX = "re:"
_RULE_KEYS = frozenset(
    {"hosts", "paths", "methods", "groups", "users", "roles", "policy", "require"}
)
_REQUIRE_KEYS = frozenset({"strength", "max_age"})
_TOP_KEYS = frozenset({"default", "rule"})
_MAX_AGE = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_METHOD = re.compile(r"[A-Z][A-Z-]{0,19}")


class AccessRulesError(ValueError):
    """The rules file is unreadable or wrong; the message names the rule and the field."""


class Policy(enum.StrEnum):
    BYPASS = "bypass"  #: no sign-in needed; the identity headers go out empty
    DENY = "deny"
    REQUIRE = "require"  #: a sign-in meeting the rule's requirement


@dataclass(frozen=True)
class Requirement:
    """What a sign-in must be to pass a ``require`` rule."""

    strength: Strength = Strength.PASSWORD
    #: how long ago the sign-in may have happened (None: any live session)
    max_age: timedelta | None = None


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``; ``number`` counts from 1 in file order."""

    number: int
    hosts: tuple[str, ...]
    policy: Policy
    requirement: Requirement | None = None
    prefixes: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    methods: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    #: normalised usernames (:func:`app.models.normalize_username`)
    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    #: the prefixes without their trailing slash, as :meth:`matches` compares them
    _bases: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_bases", tuple(p.rstrip("/") for p in self.prefixes))

    @property
    def restricted(self) -> bool:
        """Whether only some people (users, groups, roles) may pass."""
        return bool(self.groups or self.users or self.roles)

    def matches(self, path: str, method: str) -> bool:
        """Whether the rule applies to a normalised ``path`` and ``method``."""
        if self.methods and method not in self.methods:
            return False
        if not self.prefixes and not self.patterns:
            return True
        # By whole segments: "/public/" and "/public" both cover "/public" and
        # "/public/x", never "/publicity".
        return any(path == p or path.startswith(p + "/") for p in self._bases) or any(
            p.search(path) for p in self.patterns
        )

    def summary(self) -> str:
        """One line for ``keystile access check`` and logs."""
        parts = ["hosts=" + ",".join(self.hosts)]
        paths = [*self.prefixes, *(REGEX_PREFIX + p.pattern for p in self.patterns)]
        if paths:
            parts.append("paths=" + ",".join(paths))
        for name in ("methods", "groups", "users", "roles"):
            values: frozenset[str] = getattr(self, name)
            if values:
                parts.append(f"{name}=" + ",".join(sorted(values)))
        if self.requirement is None:
            parts.append(f"policy={self.policy}")
        else:
            need = f"require strength={strength_name(self.requirement.strength)}"
            if self.requirement.max_age is not None:
                need += f" max_age={int(self.requirement.max_age.total_seconds())}s"
            parts.append(need)
        return " ".join(parts)


class AccessRules:
    """The parsed file: the rules in order, the default, and the host index."""

    def __init__(self, rules: tuple[Rule, ...] = (), default: Policy = Policy.DENY) -> None:
        self.rules = rules
        self.default = default
        exact: dict[str, list[int]] = defaultdict(list)
        below: dict[str, list[int]] = defaultdict(list)
        for i, rule in enumerate(rules):
            for pattern in rule.hosts:
                if pattern.startswith("*."):
                    below[pattern[2:]].append(i)
                else:
                    exact[pattern].append(i)
        self._exact = dict(exact)
        self._below = dict(below)
        #: a bounded cache: hosts come from the trusted proxy, but a proxy passes on
        #: whatever Host a client sends
        self.candidates = lru_cache(maxsize=1024)(self._candidates)
        #: hosts that name the same rules (``a.example.com`` and ``b.example.com`` under
        #: one ``*.example.com``) share one index
        self._indexed = lru_cache(maxsize=1024)(self._index)

    def _candidates(self, host: str) -> HostRules:
        """The rules that name ``host`` (a :func:`hosts.request_host`), in file order,
        indexed by path prefix."""
        found = set(self._exact.get(host, ()))
        for suffix in hosts.suffixes(host):
            found.update(self._below.get(suffix, ()))
        return self._indexed(tuple(sorted(found)))

    def _index(self, positions: tuple[int, ...]) -> HostRules:
        return HostRules(tuple(self.rules[i] for i in positions))

    def names_host(self, host: str) -> bool:
        """Whether some rule names ``host``: only such hosts are sign-in return targets."""
        return bool(self.candidates(host))


def load_rules(path: str | Path) -> AccessRules:
    """Read and check the rules file.

    Raises:
        AccessRulesError: the file cannot be read, is not TOML, or a rule is wrong.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AccessRulesError(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AccessRulesError(f"{path} is not valid TOML: {exc}") from None
    return parse_rules(data)


def parse_rules(data: Mapping[str, Any]) -> AccessRules:
    """Check the decoded file (see the module's docstring).

    Raises:
        AccessRulesError: naming the rule and the field.
    """
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise AccessRulesError(f"unknown key {sorted(unknown)[0]!r} (expected default, [[rule]])")
    default = data.get("default", "deny")
    if default not in (Policy.DENY, Policy.BYPASS):
        raise AccessRulesError(f'default must be "deny" or "bypass", not {default!r}')
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise AccessRulesError("rules are written as [[rule]] tables")
    rules = tuple(_rule(number, raw) for number, raw in enumerate(raw_rules, start=1))
    return AccessRules(rules=rules, default=Policy(default))


def _rule(number: int, raw: Any) -> Rule:
    def fail(key: str, problem: str) -> AccessRulesError:
        return AccessRulesError(f"rule {number}: {key}: {problem}")

    if not isinstance(raw, dict):
        raise AccessRulesError(f"rule {number}: must be a table")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(key, "unknown key (expected " + ", ".join(sorted(_RULE_KEYS)) + ")")
    host_list = _strings(raw, "hosts", fail)
    if not host_list:
        raise fail("hosts", "name at least one host")
    try:
        host_patterns = tuple(hosts.rule_host(h) for h in host_list)
    except hosts.BadHost as exc:
        raise fail("hosts", str(exc)) from None
    prefixes, patterns = _paths(_strings(raw, "paths", fail), fail)
    methods = frozenset(m.upper() for m in _strings(raw, "methods", fail))
    if bad := sorted(m for m in methods if not _METHOD.fullmatch(m)):
        raise fail("methods", f"{bad[0]!r} is not an HTTP method")
    groups = frozenset(g.lower() for g in _strings(raw, "groups", fail))
    if bad := sorted(g for g in groups if not GROUP_NAME.fullmatch(g)):
        raise fail("groups", f"{bad[0]!r} is not a group name (a-z, 0-9, . _ -)")
    users = frozenset(normalize_username(u) for u in _strings(raw, "users", fail))
    roles = frozenset(r.lower() for r in _strings(raw, "roles", fail))
    if bad := sorted(roles - {str(r) for r in Role}):
        raise fail("roles", f"{bad[0]!r} is not a role (" + ", ".join(Role) + ")")
    policy, requirement = _policy(raw, fail)
    if policy is not Policy.REQUIRE and (groups or users or roles):
        raise fail("policy", f"a {policy} rule applies to everyone: drop groups, users, roles")
    return Rule(
        number=number,
        hosts=host_patterns,
        policy=policy,
        requirement=requirement,
        prefixes=prefixes,
        patterns=patterns,
        methods=methods,
        groups=groups,
        users=users,
        roles=roles,
    )


def _strings(raw: Mapping[str, Any], key: str, fail: Any) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(key, "must be a list of non-empty strings")
    return list(value)


def _paths(values: list[str], fail: Any) -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]:
    prefixes: list[str] = []
    patterns: list[re.Pattern[str]] = []
    for value in values:
        if value.startswith(REGEX_PREFIX):
            try:
                patterns.append(compile_path_pattern(value[len(REGEX_PREFIX) :]))
            except UnsafePattern as exc:
                raise fail("paths", f"{value!r}: {exc}") from None
        elif not value.startswith("/") or "//" in value or "/./" in value or "/../" in value:
            raise fail("paths", f"{value!r}: a prefix is a normalised path starting with /")
        else:
            prefixes.append(value)
    return tuple(prefixes), tuple(patterns)


def _policy(raw: Mapping[str, Any], fail: Any) -> tuple[Policy, Requirement | None]:
    if ("policy" in raw) == ("require" in raw):
        raise fail("policy", 'give either policy = "bypass" | "deny" or require = {...}')
    if "policy" in raw:
        if raw["policy"] not in (Policy.BYPASS, Policy.DENY):
            raise fail("policy", f'must be "bypass" or "deny", not {raw["policy"]!r}')
        return Policy(raw["policy"]), None
    need = raw["require"]
    if not isinstance(need, dict):
        raise fail("require", 'must be a table like { strength = "password" }')
    if unknown := sorted(set(need) - _REQUIRE_KEYS):
        raise fail(f"require.{unknown[0]}", "unknown key (expected strength, max_age)")
    strength = Strength.PASSWORD
    if "strength" in need:
        found = strength_by_name(need["strength"]) if isinstance(need["strength"], str) else None
        if found is None:
            raise fail(
                "require.strength",
                f"{need['strength']!r} is not one of "
                + ", ".join(strength_name(s) for s in Strength),
            )
        strength = found
    max_age = None
    if "max_age" in need:
        max_age = parse_max_age(need["max_age"])
        if max_age is None:
            raise fail(
                "require.max_age", f"{need['max_age']!r} is not a duration like 30s, 15m, 1h or 2d"
            )
    return Policy.REQUIRE, Requirement(strength, max_age)


def parse_max_age(value: Any) -> timedelta | None:
    """``"15m"`` as a duration; None for anything else."""
    found = _MAX_AGE.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return None
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})

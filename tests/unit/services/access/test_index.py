"""The per-host path index answers exactly what trying the host's rules in file order does."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.access import (
    AccessRules,
    Rule,
    UnsafePath,
    decide,
    match,
    normalise_path,
    parse_rules,
)
from app.services.access.index import HostRules

NOW = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)
HOSTS = ["wiki.example.com", "*.example.com", "tools.example.org"]
ASKED_HOSTS = ["wiki.example.com", "a.example.com", "tools.example.org", "other.test"]
SEGMENTS = ["a", "b", "ab", "admin", "x.y"]
PATTERNS = ["re:^/a", "re:^/b/", "re:ab$", "re:^/admin/[a-z]+$", "re:/x\\.y(/|$)"]
METHODS = ["GET", "POST", "DELETE"]

_prefix = st.builds(
    lambda parts, slash: "/" + "/".join(parts) + ("/" if slash and parts else ""),
    st.lists(st.sampled_from(SEGMENTS), max_size=3),
    st.booleans(),
)
_rule = st.fixed_dictionaries(
    {
        "hosts": st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2, unique=True),
        "paths": st.lists(st.one_of(_prefix, st.sampled_from(PATTERNS)), max_size=3),
        "methods": st.lists(st.sampled_from(METHODS), max_size=2, unique=True),
        "policy": st.sampled_from(["bypass", "deny"]),
    }
)
_path = st.one_of(
    st.builds(
        lambda parts, slash: "/" + "/".join(parts) + ("/" if slash and parts else ""),
        st.lists(st.sampled_from([*SEGMENTS, "abc", "c"]), max_size=5),
        st.booleans(),
    ),
    st.text(alphabet="/abx.y", max_size=12).map(lambda t: "/" + t),
)


def in_order(rules: tuple[Rule, ...], path: str, method: str) -> Rule | None:
    """The reference: every rule tried in file order."""
    return next((rule for rule in rules if rule.matches(path, method)), None)


def _parse(raw_rules: list[dict[str, Any]]) -> AccessRules:
    rules = [{k: v for k, v in raw.items() if v} for raw in raw_rules]
    return parse_rules({"default": "deny", "rule": rules})


@settings(max_examples=400, deadline=None)
@given(
    raw_rules=st.lists(_rule, max_size=25),
    paths=st.lists(_path, min_size=1, max_size=8),
    method=st.sampled_from(METHODS),
)
def test_index_matches_the_rules_tried_in_order(
    raw_rules: list[dict[str, Any]], paths: list[str], method: str
) -> None:
    rules = _parse(raw_rules)
    for host in ASKED_HOSTS:
        indexed = rules.candidates(host)
        assert indexed.rules == tuple(r for r in rules.rules if _names(r, host))
        for path in paths:
            expected = in_order(indexed.rules, path, method)
            assert indexed.first_match(path, method) is expected
            found = match(rules, host=host, target=path, method=method)
            try:
                normalised = normalise_path(path)
            except UnsafePath:
                assert found.refused is not None and found.rule is None
            else:
                assert found.rule is in_order(indexed.rules, normalised, method)


def _names(rule: Rule, host: str) -> bool:
    return any(p == host or (p.startswith("*.") and host.endswith(p[1:])) for p in rule.hosts)


@settings(max_examples=200, deadline=None)
@given(
    prefixes=st.lists(_prefix, min_size=1, max_size=40), path=_path, method=st.sampled_from(METHODS)
)
def test_many_prefix_rules_on_one_host(prefixes: list[str], path: str, method: str) -> None:
    """Many prefix rules sharing a host, some with methods: the first in file order wins."""
    rules = tuple(
        Rule(
            number=n,
            hosts=("wiki.example.com",),
            policy=parse_rules({}).default,
            prefixes=(prefix,),
            methods=frozenset({"POST"}) if n % 3 == 0 else frozenset(),
        )
        for n, prefix in enumerate(prefixes, start=1)
    )
    assert HostRules(rules).first_match(path, method) is in_order(rules, path, method)


def test_prefix_rules_are_looked_up_not_tried_one_by_one() -> None:
    """1,000 prefix rules on one host: only the rule whose prefix covers the path is tried."""
    text = "\n".join(
        f'[[rule]]\nhosts = ["wiki.example.com"]\npaths = ["/p{i}/"]\npolicy = "deny"'
        for i in range(1000)
    )
    text += '\n[[rule]]\nhosts = ["wiki.example.com"]\npaths = ["re:^/p5"]\npolicy = "bypass"'
    many = parse_rules(tomllib.loads(text))
    tried: list[int] = []
    for rule in many.rules:
        original = rule.matches

        def counting(path: str, method: str, _n: int = rule.number, _m: object = original) -> bool:
            tried.append(_n)
            return _m(path, method)  # type: ignore[operator, no-any-return]

        object.__setattr__(rule, "matches", counting)
    decision = decide(
        many, host="wiki.example.com", target="/p999/x", method="GET", subject=None, now=NOW
    )
    assert decision.rule is not None and decision.rule.number == 1000
    assert tried == [1000]  # the regex rule comes later in the file: not tried
    tried.clear()
    decision = decide(
        many, host="wiki.example.com", target="/p5x", method="GET", subject=None, now=NOW
    )
    assert decision.rule is not None and decision.rule.number == 1001
    assert tried == [1001]


def test_a_regex_rule_before_a_prefix_rule_still_wins() -> None:
    rules = parse_rules(
        tomllib.loads("""
[[rule]]
hosts = ["wiki.example.com"]
paths = ["re:^/admin/secret"]
policy = "deny"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/admin/"]
policy = "bypass"
""")
    )
    found = match(rules, host="wiki.example.com", target="/admin/secret", method="GET")
    assert found.rule is not None and found.rule.number == 1
    found = match(rules, host="wiki.example.com", target="/admin/open", method="GET")
    assert found.rule is not None and found.rule.number == 2


def test_hosts_naming_the_same_rules_share_one_index() -> None:
    rules = parse_rules({"rule": [{"hosts": ["*.example.com"], "policy": "bypass"}]})
    assert rules.candidates("a.example.com") is rules.candidates("b.example.com")
    assert len(rules.candidates("example.org")) == 0

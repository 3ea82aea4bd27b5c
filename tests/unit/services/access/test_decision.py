"""The gate's decision as a table: host, path, method and who asks -> outcome and rule."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest

from app.models import Strength
from app.services.access import AccessRules, Outcome, Subject, decide, parse_rules

NOW = datetime(2027, 5, 1, 12, 0, tzinfo=UTC)
RULES = parse_rules(
    tomllib.loads("""
default = "deny"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/public/"]
policy = "bypass"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/admin/"]
groups = ["ops"]
require = { strength = "hardware-key", max_age = "15m" }
[[rule]]
hosts = ["wiki.example.com"]
paths = ["re:^/api/v[0-9]+/"]
methods = ["POST", "DELETE"]
users = ["carol"]
roles = ["admin"]
require = { strength = "synced-passkey" }
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/blocked"]
policy = "deny"
[[rule]]
hosts = ["*.example.com", "tools.example.org"]
require = { strength = "password" }
""")
)


def who(
    name: str = "alice",
    strength: Strength | None = Strength.PASSWORD,
    *,
    groups: tuple[str, ...] = (),
    role: str = "user",
    minutes_ago: int = 1,
) -> Subject:
    return Subject(
        username=name,
        username_normalized=name.lower(),
        role=role,
        groups=frozenset(groups),
        strength=strength,
        signed_in_at=NOW - timedelta(minutes=minutes_ago),
    )


ALICE = who()
OPS_KEY = who("bob", Strength.HARDWARE_KEY, groups=("ops",))
OPS_PASSWORD = who("bob", Strength.PASSWORD, groups=("ops",))
OPS_KEY_OLD = who("bob", Strength.HARDWARE_KEY, groups=("ops",), minutes_ago=16)
CAROL = who("Carol", Strength.SYNCED_PASSKEY)
ADMIN = who("dave", Strength.HARDWARE_KEY, role="admin")
UNKNOWN_CREDENTIAL = who("erin", None)


@pytest.mark.parametrize(
    ("host", "target", "method", "subject", "outcome", "rule"),
    [
        pytest.param(
            "wiki.example.com",
            "/public/logo.png",
            "GET",
            None,
            Outcome.ALLOW,
            1,
            id="bypass-anonymous",
        ),
        pytest.param(
            "WIKI.example.com.:443",
            "/public/",
            "GET",
            None,
            Outcome.ALLOW,
            1,
            id="host-case-dot-port",
        ),
        pytest.param(
            "wiki.example.com",
            "/public",
            "GET",
            None,
            Outcome.ALLOW,
            1,
            id="prefix-without-trailing-slash",
        ),
        pytest.param(
            "wiki.example.com",
            "/publicity",
            "GET",
            None,
            Outcome.SIGN_IN,
            5,
            id="prefix-is-by-segment",
        ),
        pytest.param(
            "wiki.example.com",
            "/public/../admin/",
            "GET",
            None,
            Outcome.SIGN_IN,
            2,
            id="dot-segments-before-matching",
        ),
        pytest.param(
            "wiki.example.com",
            "//public//x",
            "GET",
            None,
            Outcome.ALLOW,
            1,
            id="double-slashes-collapsed",
        ),
        pytest.param(
            "wiki.example.com",
            "/public/%2e%2e/admin/",
            "GET",
            None,
            Outcome.DENY,
            None,
            id="encoded-dots-denied",
        ),
        pytest.param(
            "wiki.example.com",
            "/public%2fx",
            "GET",
            None,
            Outcome.DENY,
            None,
            id="encoded-slash-denied",
        ),
        pytest.param(
            "wiki.example.com", "/admin/", "GET", None, Outcome.SIGN_IN, 2, id="anonymous-signs-in"
        ),
        pytest.param(
            "wiki.example.com", "/admin/x", "GET", OPS_KEY, Outcome.ALLOW, 2, id="ops-with-key"
        ),
        pytest.param(
            "wiki.example.com",
            "/admin/x",
            "GET",
            OPS_PASSWORD,
            Outcome.STEP_UP,
            2,
            id="ops-with-password-steps-up",
        ),
        pytest.param(
            "wiki.example.com",
            "/admin/x",
            "GET",
            OPS_KEY_OLD,
            Outcome.STEP_UP,
            2,
            id="ops-key-too-old",
        ),
        pytest.param(
            "wiki.example.com",
            "/admin/x",
            "GET",
            ALICE,
            Outcome.DENY,
            2,
            id="not-in-group-denied-not-next-rule",
        ),
        pytest.param(
            "wiki.example.com",
            "/admin/x",
            "GET",
            UNKNOWN_CREDENTIAL,
            Outcome.DENY,
            2,
            id="unknown-credential-not-in-group",
        ),
        pytest.param(
            "wiki.example.com",
            "/api/v2/pages",
            "POST",
            CAROL,
            Outcome.ALLOW,
            3,
            id="regex-method-user",
        ),
        pytest.param(
            "wiki.example.com",
            "/api/v2/pages",
            "delete",
            ADMIN,
            Outcome.ALLOW,
            3,
            id="method-case-role",
        ),
        pytest.param(
            "wiki.example.com",
            "/api/v2/pages",
            "POST",
            ALICE,
            Outcome.DENY,
            3,
            id="regex-not-admitted",
        ),
        pytest.param(
            "wiki.example.com",
            "/api/v2/pages",
            "GET",
            ALICE,
            Outcome.ALLOW,
            5,
            id="method-not-listed-falls-through",
        ),
        pytest.param(
            "wiki.example.com", "/x/api/v2/", "POST", ALICE, Outcome.ALLOW, 5, id="anchored-regex"
        ),
        pytest.param(
            "wiki.example.com", "/blocked/x", "GET", ADMIN, Outcome.DENY, 4, id="deny-rule"
        ),
        pytest.param("a.b.example.com", "/", "GET", ALICE, Outcome.ALLOW, 5, id="deep-wildcard"),
        pytest.param(
            "tools.example.org", "/", "GET", None, Outcome.SIGN_IN, 5, id="second-host-of-rule"
        ),
        pytest.param(
            "tools.example.org",
            "/",
            "GET",
            UNKNOWN_CREDENTIAL,
            Outcome.STEP_UP,
            5,
            id="unknown-credential-steps-up",
        ),
        pytest.param("example.com", "/", "GET", ALICE, Outcome.DENY, None, id="wildcard-not-apex"),
        pytest.param("evil.com", "/", "GET", ADMIN, Outcome.DENY, None, id="default-deny"),
        pytest.param(
            "wiki.example.com.evil.com", "/", "GET", ALICE, Outcome.DENY, None, id="suffix-trick"
        ),
        pytest.param(
            "wiki.example.com@evil.com", "/", "GET", ALICE, Outcome.DENY, None, id="userinfo-host"
        ),
        pytest.param("wiki.example.com:x", "/", "GET", ALICE, Outcome.DENY, None, id="bad-port"),
        pytest.param("", "/", "GET", ALICE, Outcome.DENY, None, id="no-host"),
    ],
)
def test_decide(
    host: str, target: str, method: str, subject: Subject | None, outcome: Outcome, rule: int | None
) -> None:
    decision = decide(RULES, host=host, target=target, method=method, subject=subject, now=NOW)
    assert decision.outcome is outcome, decision.reason
    assert (decision.rule.number if decision.rule else None) == rule


def test_step_up_names_the_strength_and_bypass_is_marked() -> None:
    step = decide(
        RULES,
        host="wiki.example.com",
        target="/admin/",
        method="GET",
        subject=OPS_PASSWORD,
        now=NOW,
    )
    assert step.needed is Strength.HARDWARE_KEY
    assert "needs hardware-key; signed in with password" in step.reason
    bypass = decide(
        RULES, host="wiki.example.com", target="/public/", method="GET", subject=ALICE, now=NOW
    )
    assert bypass.allowed and bypass.bypass
    allowed = decide(RULES, host="x.example.com", target="/", method="GET", subject=ALICE, now=NOW)
    assert allowed.allowed and not allowed.bypass


def test_default_bypass() -> None:
    open_default = parse_rules({"default": "bypass"})
    decision = decide(
        open_default, host="any.example", target="/", method="GET", subject=None, now=NOW
    )
    assert decision.allowed and decision.bypass and decision.rule is None


def test_thousand_rules_evaluated_once_each_with_safe_patterns() -> None:
    """Matching stays linear: 1,000 regex rules for one host are each tried once against a
    long hostile path, and rules for other hosts are not tried at all."""
    text = "\n".join(
        f'[[rule]]\nhosts = ["wiki.example.com"]\npaths = ["re:^/s{i}/[a-z]+x$"]\n'
        f'policy = "deny"\n[[rule]]\nhosts = ["h{i}.example.org"]\npolicy = "bypass"'
        for i in range(1000)
    )
    many: AccessRules = parse_rules(tomllib.loads(text))
    assert len(many.rules) == 2000
    tried: list[int] = []
    for rule in many.rules:
        original = rule.matches

        def counting(path: str, method: str, _n: int = rule.number, _m: object = original) -> bool:
            tried.append(_n)
            return _m(path, method)  # type: ignore[operator, no-any-return]

        object.__setattr__(rule, "matches", counting)
    many.candidates.cache_clear()
    hostile = "/s999/" + "a" * 4000
    decision = decide(
        many, host="wiki.example.com", target=hostile, method="GET", subject=None, now=NOW
    )
    assert decision.outcome is Outcome.DENY and decision.rule is None
    assert sorted(tried) == list(range(1, 2000, 2))  # each of the host's rules, once

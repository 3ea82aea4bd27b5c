"""The access rules file: what it accepts, and errors that name the rule and the field."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError, load_settings
from app.models import Strength
from app.services.access import AccessRulesError, Policy, load_rules, parse_rules
from app.services.access.patterns import UnsafePattern, compile_path_pattern
from app.services.access.strengths import strength_by_name, strength_name

EXAMPLE = """
default = "deny"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/public/"]
policy = "bypass"
[[rule]]
hosts = ["wiki.example.com"]
paths = ["/admin/", "re:^/api/v[0-9]+/"]
methods = ["post", "PUT"]
groups = ["ops"]
users = ["Alice"]
roles = ["admin"]
require = { strength = "hardware-key", max_age = "15m" }
[[rule]]
hosts = ["*.example.com"]
require = { strength = "password" }
"""


def rules(text: str) -> Any:
    return parse_rules(tomllib.loads(text))


def test_the_issue_example_parses() -> None:
    parsed = rules(EXAMPLE)
    assert parsed.default is Policy.DENY and len(parsed.rules) == 3
    public, admin, anything = parsed.rules
    assert public.policy is Policy.BYPASS and public.prefixes == ("/public/",)
    assert admin.requirement is not None
    assert admin.requirement.strength is Strength.HARDWARE_KEY
    assert admin.requirement.max_age == timedelta(minutes=15)
    assert admin.methods == {"POST", "PUT"} and admin.groups == {"ops"}
    assert admin.users == {"alice"} and admin.roles == {"admin"}
    assert [p.pattern for p in admin.patterns] == ["^/api/v[0-9]+/"]
    assert anything.hosts == ("*.example.com",) and anything.number == 3
    assert "require strength=hardware-key max_age=900s" in admin.summary()


def test_empty_file_is_default_deny() -> None:
    parsed = parse_rules({})
    assert parsed.default is Policy.DENY and parsed.rules == ()


def test_strength_names_follow_the_one_strength_order() -> None:
    names = [strength_name(s) for s in sorted(Strength)]
    assert names == ["password", "certificate", "synced-passkey", "device-key", "hardware-key"]
    assert all(strength_by_name(n) is s for n, s in zip(names, sorted(Strength), strict=True))
    assert strength_by_name("HARDWARE_KEY") is None


def _one(rule: str, default: str = "") -> str:
    return f'{default}\n[[rule]]\nhosts = ["a.example.com"]\npolicy = "bypass"\n[[rule]]\n{rule}\n'


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param('default = "allow"', 'default must be "deny" or "bypass"', id="bad-default"),
        pytest.param('defualt = "deny"', "unknown key 'defualt'", id="unknown-top-key"),
        pytest.param('rule = "x"', "[[rule]] tables", id="rule-not-array"),
        pytest.param(
            _one('hosts = ["b.example.com"]\npolicy = "bypass"\npath = ["/x"]'),
            "rule 2: path: unknown key",
            id="unknown-rule-key",
        ),
        pytest.param(
            _one('policy = "bypass"'), "rule 2: hosts: name at least one host", id="no-hosts"
        ),
        pytest.param(
            _one('hosts = []\npolicy = "bypass"'),
            "rule 2: hosts: name at least one",
            id="empty-hosts",
        ),
        pytest.param(
            _one('hosts = "b.example.com"\npolicy = "bypass"'),
            "rule 2: hosts: must be a list",
            id="hosts-not-list",
        ),
        pytest.param(
            _one('hosts = [""]\npolicy = "bypass"'),
            "rule 2: hosts: must be a list of non-empty",
            id="empty-host",
        ),
        pytest.param(
            _one('hosts = ["b.*.com"]\npolicy = "bypass"'),
            "rule 2: hosts: 'b.*.com'",
            id="inner-wildcard",
        ),
        pytest.param(
            _one('hosts = ["b.example.com:8443"]\npolicy = "bypass"'),
            "without a port",
            id="host-with-port",
        ),
        pytest.param(
            _one('hosts = ["wiki.b\u00fccher.de"]\npolicy = "bypass"'), "xn--", id="unicode-host"
        ),
        pytest.param(
            _one('hosts = ["https://b.example.com"]\npolicy = "bypass"'),
            "rule 2: hosts",
            id="url-not-host",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\npolicy = "allow"'),
            'rule 2: policy: must be "bypass" or "deny"',
            id="bad-policy",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]'), "rule 2: policy: give either", id="no-policy"
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\npolicy = "deny"\nrequire = {}'),
            "rule 2: policy: give either",
            id="policy-and-require",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = "password"'),
            "rule 2: require: must be a table",
            id="require-not-table",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { strength = "yubikey" }'),
            "rule 2: require.strength: 'yubikey' is not one of password, certificate, "
            "synced-passkey, device-key, hardware-key",
            id="bad-strength",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { strength = 4 }'),
            "rule 2: require.strength",
            id="numeric-strength",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { level = "password" }'),
            "rule 2: require.level: unknown key",
            id="unknown-require-key",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { max_age = "15 minutes" }'),
            "rule 2: require.max_age: '15 minutes' is not a duration",
            id="bad-max-age",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { max_age = "0m" }'),
            "rule 2: require.max_age",
            id="zero-max-age",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { max_age = 900 }'),
            "rule 2: require.max_age",
            id="number-max-age",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nrequire = { max_age = "1w" }'),
            "rule 2: require.max_age",
            id="unknown-unit",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\npaths = ["re:(a+)+$"]\npolicy = "deny"'),
            "rule 2: paths: 're:(a+)+$': a repetition inside a repetition",
            id="nested-repeat",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\npaths = ["re:[a-"]\npolicy = "deny"'),
            "rule 2: paths: 're:[a-': not a regular expression",
            id="bad-regex",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\npaths = ["admin/"]\npolicy = "deny"'),
            "rule 2: paths: 'admin/': a prefix is a normalised path",
            id="relative-prefix",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\npaths = ["/a/../b"]\npolicy = "deny"'),
            "rule 2: paths",
            id="dotted-prefix",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nmethods = ["GET /"]\npolicy = "deny"'),
            "rule 2: methods: 'GET /' is not an HTTP method",
            id="bad-method",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\ngroups = ["Ops Team"]\nrequire = {}'),
            "rule 2: groups: 'ops team' is not a group name",
            id="bad-group",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\nroles = ["root"]\nrequire = {}'),
            "rule 2: roles: 'root' is not a role",
            id="bad-role",
        ),
        pytest.param(
            _one('hosts = ["b.example.com"]\ngroups = ["ops"]\npolicy = "bypass"'),
            "rule 2: policy: a bypass rule applies to everyone",
            id="bypass-with-group",
        ),
        pytest.param(
            '[[rule]]\nhosts = ["a.example.com"]\nrequire = {}\n[[rule]]\n',
            "rule 2: hosts",
            id="empty-second-rule",
        ),
    ],
)
def test_errors_name_rule_and_field(text: str, needle: str) -> None:
    with pytest.raises(AccessRulesError) as caught:
        rules(text)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("1h", 3600),
        ("2d", 172800),
        ("999999s", 999999),
    ],
)
def test_max_age(value: str, seconds: int) -> None:
    parsed = rules(f'[[rule]]\nhosts = ["a.b"]\nrequire = {{ max_age = "{value}" }}')
    need = parsed.rules[0].requirement
    assert need is not None and need.max_age == timedelta(seconds=seconds)
    assert need.strength is Strength.PASSWORD  # the default: any sign-in


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        pytest.param("(a+)+$", "inside a repetition", id="nested-plus"),
        pytest.param("(a*)*b", "inside a repetition", id="nested-star"),
        pytest.param("(x{2,}){3,}", "inside a repetition", id="nested-counted"),
        pytest.param("(foo|foobar)*$", "repeated alternation", id="repeated-alternation"),
        pytest.param("(a)\\1", "back-references", id="backreference"),
        pytest.param(".*a.*b.*c.*d", "open-ended repetitions", id="too-many-stars"),
        pytest.param("", "empty", id="empty"),
        pytest.param("a" * 501, "longer than", id="too-long"),
        pytest.param("(?P<x", "not a regular expression", id="unparsable"),
    ],
)
def test_unsafe_patterns_refused(pattern: str, needle: str) -> None:
    with pytest.raises(UnsafePattern) as caught:
        compile_path_pattern(pattern)
    assert needle in str(caught.value)


@pytest.mark.parametrize(
    "pattern",
    [
        "^/api/v[0-9]+/",
        "^/(a|b)/",
        r"\.json$",
        "^/files/[^/]+/raw$",
        "^/x(yz)?/",
        "(ab){2}",
    ],
)
def test_safe_patterns_accepted(pattern: str) -> None:
    assert compile_path_pattern(pattern).pattern == pattern


def test_load_rules_reports_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(AccessRulesError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]\n")
    with pytest.raises(AccessRulesError, match="not valid TOML"):
        load_rules(bad)
    good = tmp_path / "rules.toml"
    good.write_text(EXAMPLE)
    assert len(load_rules(good).rules) == 3


def test_setting_is_checked_at_start_up(tmp_path: Path) -> None:
    env = {"KEYSTILE_SECRET_KEY": "k3Jd9-aL2qPz8xWv_Rt6YbNc4MhUe7FgSs1Ao0Ii5Kk"}
    bad = tmp_path / "rules.toml"
    bad.write_text(_one('hosts = ["b.example.com"]\nrequire = { strength = "retina" }'))
    with pytest.raises(ConfigError) as caught:
        load_settings({**env, "KEYSTILE_ACCESS_RULES": str(bad)})
    assert str(caught.value).startswith("KEYSTILE_ACCESS_RULES: rule 2: require.strength")
    good = tmp_path / "good.toml"
    good.write_text(EXAMPLE)
    assert load_settings({**env, "KEYSTILE_ACCESS_RULES": str(good)}).access_rules == str(good)

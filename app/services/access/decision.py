"""The gate's decision for one request: allow, sign in, sign in more strongly, or deny.

Pure: the caller says who is asking (a :class:`Subject`, or None for nobody signed in) and
what they ask for (:func:`match` finds the rule once, :meth:`Match.decide` answers for
anyone); the first rule that names the host and matches the path and method
decides, and when none does the file's ``default`` does (deny unless it says otherwise).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from app.models import Strength
from app.services.access.hosts import BadHost, request_host
from app.services.access.paths import UnsafePath, normalise_path
from app.services.access.rules import AccessRules, Policy, Rule
from app.services.access.strengths import strength_name


class Outcome(enum.StrEnum):
    ALLOW = "allow"
    SIGN_IN = "sign-in"  #: nobody is signed in, and the rule needs someone
    STEP_UP = "step-up"  #: the sign-in is too weak or too old for the rule
    DENY = "deny"


@dataclass(frozen=True)
class Subject:
    """Who is asking, as far as the gate can tell."""

    username: str
    #: :func:`app.models.normalize_username` of ``username``
    username_normalized: str
    role: str
    groups: frozenset[str]
    #: the strength of the credential that signed in (None: unknown, e.g. a revoked one)
    strength: Strength | None
    #: when that sign-in happened (a certificate shown with the request: now)
    signed_in_at: datetime


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    #: why, in words for an operator (``keystile access check``, logs)
    reason: str
    rule: Rule | None = None  #: None: the default decided, or the request was unreadable
    #: the strength to step up to (STEP_UP), or to sign in with (SIGN_IN)
    needed: Strength | None = None
    #: allowed by a bypass rule: the identity headers go out empty
    bypass: bool = False

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW


@dataclass(frozen=True)
class Match:
    """A request matched against the rules once: the rule that applies (or the default),
    or the refusal of a request that cannot be read. :meth:`decide` answers it for anyone,
    so the gate can decide for nobody first and then for the person without matching twice.
    """

    rule: Rule | None
    default: Policy
    #: the answer to an unreadable host or path, whoever asks
    refused: Decision | None = None

    def decide(self, subject: Subject | None, now: datetime) -> Decision:
        """The decision for ``subject`` (None: nobody signed in) at ``now``."""
        if self.refused is not None:
            return self.refused
        if self.rule is not None:
            return _apply(self.rule, subject, now)
        if self.default is Policy.BYPASS:
            return Decision(Outcome.ALLOW, "no rule matched; the default is bypass", bypass=True)
        return Decision(Outcome.DENY, "no rule matched; the default is deny")


def match(rules: AccessRules, *, host: str, target: str, method: str) -> Match:
    """Match one request (``target``: the request target, path and query, as received)."""
    try:
        name = request_host(host)
    except BadHost as exc:
        refused = Decision(Outcome.DENY, f"the host {host[:80]!r} is unreadable: {exc}")
        return Match(None, rules.default, refused)
    try:
        path = normalise_path(target)
    except UnsafePath as exc:
        return Match(None, rules.default, Decision(Outcome.DENY, f"the path is refused: {exc}"))
    rule = rules.candidates(name).first_match(path, method.upper())
    return Match(rule, rules.default)


def decide(
    rules: AccessRules,
    *,
    host: str,
    target: str,
    method: str,
    subject: Subject | None,
    now: datetime,
) -> Decision:
    """Decide one request (``target``: the request target, path and query, as received)."""
    return match(rules, host=host, target=target, method=method).decide(subject, now)


def _apply(rule: Rule, subject: Subject | None, now: datetime) -> Decision:
    if rule.policy is Policy.BYPASS:
        return Decision(Outcome.ALLOW, f"rule {rule.number} bypasses sign-in", rule, bypass=True)
    if rule.policy is Policy.DENY:
        return Decision(Outcome.DENY, f"rule {rule.number} denies", rule)
    need = rule.requirement
    assert need is not None  # a require rule always has one (rules.parse_rules)
    if subject is None:
        return Decision(
            Outcome.SIGN_IN, f"rule {rule.number} needs a sign-in", rule, needed=need.strength
        )
    if rule.restricted and not _admitted(rule, subject):
        return Decision(
            Outcome.DENY,
            f"rule {rule.number} admits only some users, groups or "
            f"roles, and {subject.username} is not among them",
            rule,
        )
    if subject.strength is None or subject.strength < need.strength:
        have = (
            "an unknown credential" if subject.strength is None else strength_name(subject.strength)
        )
        return Decision(
            Outcome.STEP_UP,
            f"rule {rule.number} needs {strength_name(need.strength)}; signed in with {have}",
            rule,
            needed=need.strength,
        )
    if need.max_age is not None and now - subject.signed_in_at > need.max_age:
        return Decision(
            Outcome.STEP_UP,
            f"rule {rule.number} needs a sign-in within {int(need.max_age.total_seconds())}s",
            rule,
            needed=need.strength,
        )
    return Decision(
        Outcome.ALLOW,
        f"rule {rule.number}: {subject.username} meets {strength_name(need.strength)}",
        rule,
    )


def _admitted(rule: Rule, subject: Subject) -> bool:
    return (
        subject.username_normalized in rule.users
        or subject.role in rule.roles
        or bool(rule.groups & subject.groups)
    )

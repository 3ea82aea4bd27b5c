"""Access rules for the forward-auth gate: who may reach which protected host and path.

Plain Python, no Flask: :func:`load_rules` reads ``KEYSTILE_ACCESS_RULES`` at start-up and
:func:`decide` answers one request at a time.
"""

from app.services.access.decision import Decision, Match, Outcome, Subject, decide, match
from app.services.access.hosts import BadHost, request_host
from app.services.access.paths import UnsafePath, normalise_path
from app.services.access.rules import (
    AccessRules,
    AccessRulesError,
    Policy,
    Requirement,
    Rule,
    load_rules,
    parse_rules,
)
from app.services.access.strengths import strength_by_name, strength_name

__all__ = [
    "AccessRules",
    "AccessRulesError",
    "BadHost",
    "Decision",
    "Match",
    "Outcome",
    "Policy",
    "Requirement",
    "Rule",
    "Subject",
    "UnsafePath",
    "decide",
    "load_rules",
    "match",
    "normalise_path",
    "parse_rules",
    "request_host",
    "strength_by_name",
    "strength_name",
]

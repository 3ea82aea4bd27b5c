"""Typed access to what create_app() put on the application."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app.config import Settings
from app.services.access import AccessRules
from app.services.assertion import AssertionKeys
from app.services.cert_auth import PolicySource
from app.services.hash_budget import HashBudget
from app.services.notices import Mailer
from app.services.passwords import Passwords
from app.services.sessions import Timeouts


def settings() -> Settings:
    s: Settings = current_app.extensions["keystile.settings"]
    return s


def passwords() -> Passwords:
    p: Passwords = current_app.extensions["keystile.passwords"]
    return p


def hash_budget() -> HashBudget:
    b: HashBudget = current_app.extensions["keystile.hash_budget"]
    return b


def mailer() -> Mailer:
    m: Mailer = current_app.extensions["keystile.mailer"]
    return m


def session_timeouts() -> Timeouts:
    s = settings()
    return Timeouts(
        idle=timedelta(minutes=s.session_idle_minutes),
        absolute=timedelta(hours=s.session_absolute_hours),
    )


def access_rules() -> AccessRules:
    """``KEYSTILE_ACCESS_RULES`` as parsed at start-up (no rules: nothing is protected)."""
    rules: AccessRules = current_app.extensions["keystile.access_rules"]
    return rules


def assertion_keys() -> AssertionKeys:
    """The keys of the gate's signed assertion (loaded, or generated, on first use)."""
    keys: AssertionKeys = current_app.extensions["keystile.assertion_keys"]
    return keys


def cert_policy() -> PolicySource:
    src: PolicySource = current_app.extensions["keystile.cert_policy"]
    return src

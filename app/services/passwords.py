"""Password hashing and the password rules of NIST SP 800-63B-4 §3.1.1.2.

argon2id through argon2-cffi at OWASP's parameters by default (19 MiB, t=2, p=1). A
password is NFKC-normalised before hashing (SP 800-63B-4 §3.1.1.2) and never truncated.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.services.errors import ServiceError

#: SP 800-63B-4: at least 15 characters when the password is the only authenticator,
#: at least 8 when it is used with another; verifiers SHOULD allow at least 64.
MIN_LENGTH_SINGLE_FACTOR = 15
MIN_LENGTH_WITH_OTHER = 8
MAX_LENGTH = 1024


class PasswordPolicyError(ServiceError):
    """The new password breaks a rule; ``message`` says which, for the person choosing it."""


@dataclass(frozen=True)
class HashParameters:
    memory_kib: int = 19456
    time_cost: int = 2
    parallelism: int = 1


def make_hasher(params: HashParameters) -> PasswordHasher:
    return PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def _dummy_hash(params: HashParameters) -> str:
    return make_hasher(params).hash("keystile-dummy-password-for-timing")


class Passwords:
    """Hashing and verification at one set of parameters."""

    def __init__(self, params: HashParameters) -> None:
        self.params = params
        self._hasher = make_hasher(params)

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalize(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when ``password`` matches; never raises for a bad hash or a wrong password."""
        try:
            return self._hasher.verify(stored_hash, normalize(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, for unknown users (threat model D.17)."""
        self.verify(_dummy_hash(self.params), password)


@cache
def _common_passwords() -> frozenset[str]:
    """zxcvbn's list of common passwords (about 30,000, from leaked-password corpora)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_policy(password: str, *, has_other_credential: bool, username: str = "") -> None:
    """Apply SP 800-63B-4's rules: length, blocklist, context; no composition rules.

    Raises:
        PasswordPolicyError: with a message that tells the person what to change.
    """
    pw = normalize(password)
    minimum = MIN_LENGTH_WITH_OTHER if has_other_credential else MIN_LENGTH_SINGLE_FACTOR
    if len(pw) < minimum:
        why = "" if has_other_credential else " (it is your only way to sign in)"
        raise PasswordPolicyError(
            "too_short", f"Use at least {minimum} characters{why}; a few unrelated words work well."
        )
    if len(pw) > MAX_LENGTH:
        raise PasswordPolicyError("too_long", f"Use at most {MAX_LENGTH} characters.")
    folded = pw.casefold()
    if folded in _common_passwords() or (username and folded == username.casefold()):
        raise PasswordPolicyError(
            "common", "This password is too common or too easy to guess; choose another."
        )
    if len(set(pw)) == 1:
        raise PasswordPolicyError(
            "repetitive", "This password repeats one character; choose another."
        )

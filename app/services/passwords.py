"""Password hashing and the password rules of NIST SP 800-63B-4 §3.1.1.2.

argon2id through argon2-cffi at OWASP's parameters by default (19 MiB, t=2, p=1). A
password is NFKC-normalised before hashing (SP 800-63B-4 §3.1.1.2) and never truncated.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

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


#: how much lower the CPU priority of argon2id work is than the requests' own (a nice
#: increment): when the cores are contended, Linux gives a thread at nice 10 about a tenth
#: of the share of one at nice 0, so sign-ins by passkey or certificate, the gate's checks
#: and the proxy's TLS run first, and hashing takes the rest (issue 17)
HASHING_NICENESS = 10
T = TypeVar("T")


class HashingThreads:
    """The threads argon2id runs on: a few per process, each at :data:`HASHING_NICENESS`
    (Linux sets a nice value per thread; elsewhere they run at the process's own).

    argon2-cffi releases the interpreter lock while it hashes, so the request that waits for
    the result costs nothing meanwhile. Made on first use in each process: threads do not
    survive a fork, and gunicorn forks its workers after loading the app.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0

    def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on a hashing thread; its result, or what it raised."""
        return self._executor().submit(work, *args).result()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(
                    self.size, thread_name_prefix="keystile-argon2", initializer=_lower_priority
                )
                self._pid = os.getpid()
            return self._pool


def _lower_priority() -> None:
    if sys.platform != "linux":  # setpriority on a thread id is Linux's per-thread nice
        return
    thread = threading.get_native_id()
    current = os.getpriority(os.PRIO_PROCESS, thread)
    os.setpriority(os.PRIO_PROCESS, thread, min(19, current + HASHING_NICENESS))


class Passwords:
    """Hashing and verification at one set of parameters, for one site.

    ``site_name`` (the WebAuthn RP name) is a context word for new passwords: SP 800-63B-4
    §3.1.1.2 names "the name of the service" among the words to refuse. The argon2id work
    runs on :class:`HashingThreads`.
    """

    def __init__(
        self, params: HashParameters, *, site_name: str = "", hashing_threads: int = 4
    ) -> None:
        self.params = params
        self.site_name = site_name
        self._hasher = make_hasher(params)
        self.threads = HashingThreads(hashing_threads)

    def hash(self, password: str) -> str:
        return self.threads.run(self._hasher.hash, normalize(password))

    def verify(self, stored_hash: str, password: str) -> bool:
        """True when ``password`` matches; never raises for a bad hash or a wrong password."""
        return self.threads.run(self._verify, stored_hash, normalize(password))

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
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


#: zxcvbn scores 0-4; 3 means at least 10^8 guesses, which zxcvbn calls "safely unguessable"
#: and which holds against an online attacker however long the throttles let them try.
MIN_SCORE = 3
#: zxcvbn's own limit: its matching grows about cubically with length (72 characters take
#: 50-90 ms here, 256 take over a second), so only the first 72 characters are judged.
ESTIMATE_LENGTH = 72
#: A context word shorter than this (a two-letter username, say) is only scored by zxcvbn;
#: refusing every password that holds it somewhere would refuse far too many.
MIN_CONTAINED_WORD = 3

_zxcvbn_lock = threading.Lock()


def context_words(*values: str) -> tuple[str, ...]:
    """The words of ``values`` (username, display name, e-mail address, site name) that a
    guesser would try first: each whole value, its parts run together and each part
    ("Alice Smith" gives "alice smith", "alicesmith", "alice" and "smith"), casefolded."""
    words: list[str] = []
    for value in values:
        folded = normalize(value).casefold().strip()
        if not folded:
            continue
        parts = [part for part in re.split(r"[\W_]+", folded) if len(part) >= MIN_CONTAINED_WORD]
        words.extend([folded, "".join(parts), *parts])
    return tuple(dict.fromkeys(word for word in words if word))


def check_policy(
    password: str, *, has_other_credential: bool, username: str = "", context: tuple[str, ...] = ()
) -> None:
    """Apply SP 800-63B-4's rules to a new password: length, a blocklist, context words; no
    composition rules (§3.1.1.2).

    The blocklist is zxcvbn's estimate of how many guesses the password takes, with the
    person's username, name and e-mail address and the site's name as context words: it
    refuses "commonly used, expected, or compromised" passwords, dictionary words and
    "context-specific words ... and derivatives thereof" (§3.1.1.2), such as
    ``passwordpassword``, ``Password1`` or ``alice2026``, where an exact match against a list
    let them through. A password that holds the username is refused outright.

    Raises:
        PasswordPolicyError: with a message that tells the person what to do instead.
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
    name = normalize(username).casefold()
    if len(name) >= MIN_CONTAINED_WORD and name in folded:
        raise PasswordPolicyError(
            "contains_username",
            "Leave your username out of your password: it is the first thing a guesser tries. "
            "A few unrelated words work well.",
        )
    words = context_words(username, *context)
    problem = _guessable(pw, words)
    if problem is not None:
        raise PasswordPolicyError("guessable", problem)


def _guessable(password: str, words: tuple[str, ...]) -> str | None:
    """zxcvbn's judgement of ``password``: None when it is hard enough to guess, else one plain
    paragraph saying why it is easy and what to do instead."""
    from zxcvbn import zxcvbn

    # zxcvbn keeps the context words in a module-level dictionary while it runs: one at a time.
    with _zxcvbn_lock:
        result = zxcvbn(password[:ESTIMATE_LENGTH], user_inputs=list(words))
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result["feedback"]
    sequence = result["sequence"]
    if any(m.get("dictionary_name") == "user_inputs" for m in sequence):
        why = (
            "It is built from your name, e-mail address or this site's name, which a "
            "guesser tries first."
        )
    elif feedback["warning"]:
        why = feedback["warning"]
    # zxcvbn's type hints leave out its "bruteforce" pattern (the run it matched nothing in).
    elif all(str(m["pattern"]) == "bruteforce" for m in sequence):
        why = "It is too short to take long to guess."
    else:
        why = "It follows a pattern that guessers try early."
    advice = feedback["suggestions"] or ["Add another word or two. Uncommon words are better."]
    return " ".join(["This password would be easy to guess.", why, *advice])

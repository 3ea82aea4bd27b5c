"""Password rules (NIST SP 800-63B-4 §3.1.1.2) and argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from app.services.passwords import (
    HashParameters,
    PasswordPolicyError,
    Passwords,
    check_policy,
    context_words,
)

FAST = HashParameters(memory_kib=8192, time_cost=1)


@pytest.mark.parametrize(
    ("password", "other", "code"),
    [
        pytest.param("velvet quarry lantern", False, None, id="words-single-factor-ok"),
        pytest.param("velvet quarry", False, "too_short", id="14-chars-single-factor"),
        pytest.param("gT7#kq2!x", True, None, id="9-random-chars-with-other-factor"),
        pytest.param("qz7#kw2", True, "too_short", id="7-chars-with-other-factor"),
        pytest.param("gT7#kq2!", True, "guessable", id="8-random-chars-too-short-to-be-hard"),
        pytest.param("velvet quarry lantern " * 2 + "x" * 21, False, None, id="65-chars-allowed"),
        pytest.param(
            "velvet quarry lantern " + "x" * 1002,
            False,
            None,
            id="1024-chars-allowed-first-72-judged",
        ),
        pytest.param("velvet quarry lantern " + "x" * 1003, False, "too_long", id="1025-refused"),
        pytest.param("password", True, "guessable", id="common"),
        pytest.param("PASSWORD1", True, "guessable", id="common-case-folded"),
        pytest.param("Password123!", True, "guessable", id="common-with-symbols"),
        pytest.param("passwordpassword", False, "guessable", id="common-word-repeated"),
        pytest.param("p@ssw0rdp@ssw0rd", False, "guessable", id="common-l33t-repeated"),
        pytest.param("aaaaaaaaaaaaaaaa", False, "guessable", id="one-repeated-char"),
        pytest.param("abcdefghijklmnop", False, "guessable", id="sequence"),
        pytest.param("qwertyuiopasdfgh", False, "guessable", id="keyboard-row"),
        pytest.param("alllowercase words", False, None, id="no-composition-rules"),
        pytest.param(
            "ｖｅｌｖｅｔ ｑｕａｒｒｙ ｌａｎｔｅｒｎ",
            False,
            None,
            id="nfkc-counted-after-normalising",
        ),
    ],
)
def test_policy(password: str, other: bool, code: str | None) -> None:
    if code is None:
        check_policy(password, has_other_credential=other)
        return
    with pytest.raises(PasswordPolicyError) as info:
        check_policy(password, has_other_credential=other)
    assert info.value.code == code
    assert info.value.message


CONTEXT = ("Alice Smith", "alice.smith@example.org", "Keystile")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        pytest.param("averylongusername", "contains_username", id="username-itself"),
        pytest.param("AVeryLongUsername2026", "contains_username", id="username-and-year"),
        pytest.param("my averylongusername pass", "contains_username", id="username-inside"),
        pytest.param("AliceSmith2026!", "guessable", id="display-name-and-year"),
        pytest.param("keystile2026!", "guessable", id="site-name-and-year"),
        pytest.param("alice.smith@example.org", "guessable", id="e-mail-address"),
        pytest.param("velvet quarry lantern", None, id="unrelated-words"),
    ],
)
def test_context_words(password: str, code: str | None) -> None:
    """SP 800-63B-4 §3.1.1.2: context-specific words (the service's name, the username and
    derivatives thereof) are refused."""

    def check() -> None:
        check_policy(
            password, has_other_credential=True, username="AVeryLongUsername", context=CONTEXT
        )

    if code is None:
        check()
        return
    with pytest.raises(PasswordPolicyError) as info:
        check()
    assert info.value.code == code


def test_short_username_is_only_a_context_word() -> None:
    """A two-letter username inside a strong password is no reason to refuse it."""
    check_policy("velvet quarry lantern", has_other_credential=False, username="an")


@pytest.mark.parametrize(
    ("password", "says"),
    [
        pytest.param("passwordpassword", "Avoid repeated words", id="repeat"),
        pytest.param("abcdefghijklmnop", "Avoid sequences", id="sequence"),
        pytest.param("keystile2026!", "this site's name", id="context"),
        pytest.param("gT7#kq2!", "too short", id="short-random"),
    ],
)
def test_refusal_says_what_to_do(password: str, says: str) -> None:
    with pytest.raises(PasswordPolicyError) as info:
        check_policy(password, has_other_credential=True, context=CONTEXT)
    assert info.value.message.startswith("This password would be easy to guess.")
    assert says in info.value.message
    assert "Add another word or two" in info.value.message


def test_context_words_split_names_and_addresses() -> None:
    assert context_words("Alice", "Alice Smith", "alice.smith@example.org", "", "Keystile") == (
        "alice",
        "alice smith",
        "alicesmith",
        "smith",
        "alice.smith@example.org",
        "alicesmithexampleorg",
        "example",
        "org",
        "keystile",
    )


def test_hash_is_argon2id_with_parameters() -> None:
    pw = Passwords(FAST)
    h = pw.hash("correct horse battery staple")
    assert h.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert pw.verify(h, "correct horse battery staple")
    assert not pw.verify(h, "correct horse battery stapl")


def test_no_truncation() -> None:
    pw = Passwords(FAST)
    long = "x" * 1000
    h = pw.hash(long)
    assert not pw.verify(h, "x" * 999 + "y")
    assert pw.verify(h, long)


def test_unicode_normalised_before_hashing() -> None:
    pw = Passwords(FAST)
    h = pw.hash("caf\u00e9 au lait tous les jours")
    assert pw.verify(h, "cafe\u0301 au lait tous les jours")


def test_rehash_needed_when_parameters_change() -> None:
    old = Passwords(FAST)
    new = Passwords(HashParameters())
    h = old.hash("correct horse battery staple")
    assert new.needs_rehash(h)
    assert not old.needs_rehash(h)
    assert new.verify(h, "correct horse battery staple")


def test_bad_stored_hash_is_a_mismatch_not_an_error() -> None:
    pw = Passwords(FAST)
    assert not pw.verify("not-a-hash", "x")
    assert not pw.verify(PasswordHasher().hash("y")[:-5], "y")
    assert pw.needs_rehash("not-a-hash")


def test_argon2_runs_on_threads_of_lower_priority() -> None:
    """Hashing runs on a hashing thread, HASHING_NICENESS below the caller's priority, so a
    contended machine serves the other requests first; results and errors come back."""
    import os
    import sys
    import threading

    from app.services.passwords import HASHING_NICENESS, HashingThreads

    threads = HashingThreads(2)

    def where() -> tuple[int, int]:
        tid = threading.get_native_id()
        return tid, os.getpriority(os.PRIO_PROCESS, tid)

    tid, niceness = threads.run(where)
    assert tid != threading.get_native_id()
    if sys.platform == "linux":
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert niceness == min(19, mine + HASHING_NICENESS)

    def fails() -> None:
        raise ValueError("from the hashing thread")

    with pytest.raises(ValueError, match="from the hashing thread"):
        threads.run(fails)


def test_a_forked_process_gets_hashing_threads_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from app.services.passwords import HashingThreads

    threads = HashingThreads(1)
    assert threads.run(os.getpid) == os.getpid()
    first = threads._executor()
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a gunicorn worker after fork
    assert threads._executor() is not first


def test_passwords_verify_on_the_hashing_threads() -> None:
    import threading

    passwords = Passwords(FAST)
    stored = passwords.hash("correct horse battery staple")
    seen: list[str] = []
    verify = passwords._verify

    def spy(stored_hash: str, password: str) -> bool:
        seen.append(threading.current_thread().name)
        return verify(stored_hash, password)

    passwords._verify = spy  # type: ignore[method-assign]
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "wrong")
    assert all(name.startswith("keystile-argon2") for name in seen) and len(seen) == 2

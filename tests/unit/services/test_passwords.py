"""Password rules (NIST SP 800-63B-4 §3.1.1.2) and argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from app.services.passwords import (
    HashParameters,
    PasswordPolicyError,
    Passwords,
    check_policy,
)

FAST = HashParameters(memory_kib=8192, time_cost=1)


@pytest.mark.parametrize(
    ("password", "other", "code"),
    [
        pytest.param("a" * 14 + "b", False, None, id="15-chars-single-factor-ok"),
        pytest.param("abcdefghijklmn", False, "too_short", id="14-chars-single-factor"),
        pytest.param("abcdefgh", True, None, id="8-chars-with-other-factor"),
        pytest.param("abcdefg", True, "too_short", id="7-chars-with-other-factor"),
        pytest.param("x" * 64 + "y", False, None, id="65-chars-allowed"),
        pytest.param("xy" * 512, False, None, id="1024-chars-allowed"),
        pytest.param("xy" * 512 + "z", False, "too_long", id="1025-refused"),
        pytest.param("password", True, "common", id="common"),
        pytest.param("PASSWORD1", True, "common", id="common-case-folded"),
        pytest.param("aaaaaaaaaaaaaaaa", False, "repetitive", id="one-repeated-char"),
        pytest.param("alllowercase words", False, None, id="no-composition-rules"),
        pytest.param("ｆｕｌｌｗｉｄｔｈ ｐａｓｓｗｏｒｄ", False, None,
                     id="nfkc-counted-after-normalising"),
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


def test_username_as_password_refused() -> None:
    with pytest.raises(PasswordPolicyError):
        check_policy("averylongusername", has_other_credential=False,
                     username="AVeryLongUsername")


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

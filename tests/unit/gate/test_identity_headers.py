"""The six identity headers: always all of them, empty when unknown; never splittable."""

from __future__ import annotations

from datetime import UTC, datetime

from app.models import Strength
from app.services.access import Subject
from app.services.gate import HEADERS, Identity, header_value, identity_headers


def test_nobody_gets_every_header_empty() -> None:
    assert identity_headers(None) == dict.fromkeys(HEADERS, "")
    assert HEADERS == (
        "Remote-User",
        "Remote-Groups",
        "Remote-Email",
        "Remote-Name",
        "Remote-Auth-Method",
        "Remote-Auth-Strength",
    )


def test_a_person_gets_every_header() -> None:
    subject = Subject(
        "Bob",
        "bob",
        "user",
        frozenset({"ops", "dev"}),
        Strength.SYNCED_PASSKEY,
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    sent = identity_headers(Identity(subject, "bob@example.org", "Bob B", "passkey"))
    assert sent == {
        "Remote-User": "Bob",
        "Remote-Groups": "dev,ops",
        "Remote-Email": "bob@example.org",
        "Remote-Name": "Bob B",
        "Remote-Auth-Method": "passkey",
        "Remote-Auth-Strength": "synced-passkey",
    }
    unknown = Subject("Bob", "bob", "user", frozenset(), None, subject.signed_in_at)
    assert identity_headers(Identity(unknown, "", "", "password"))["Remote-Auth-Strength"] == ""


def test_header_values_drop_control_characters_and_carry_utf8() -> None:
    assert header_value("a\r\nb\x00c\u2028d\x7f") == "abcd"
    assert header_value("\u00c5sa \u674e").encode("latin-1").decode("utf-8") == "\u00c5sa \u674e"
    assert len(header_value("x" * 1000)) == 512

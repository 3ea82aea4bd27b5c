"""The CSV export's formula guard (OWASP "CSV Injection"): which cells get a leading apostrophe."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from app.services.audit_queries import COLUMNS, defuse, to_csv, to_jsonl


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # the OWASP minimum: = + - @ tab CR as the first character
        pytest.param("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0", id="equals"),
        pytest.param("+1+1", "'+1+1", id="plus"),
        pytest.param("-2+3", "'-2+3", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("\tx", "'\tx", id="leading-tab"),
        pytest.param("\rx", "'\rx", id="leading-cr"),
        # a trigger behind leading whitespace, which a trimming import removes
        pytest.param(" =1+1", "' =1+1", id="space-then-equals"),
        pytest.param("   @SUM(A1)", "'   @SUM(A1)", id="spaces-then-at"),
        pytest.param('\n=HYPERLINK("x")', '\'\n=HYPERLINK("x")', id="lf-then-equals"),
        pytest.param("\r\n+1", "'\r\n+1", id="crlf-then-plus"),
        pytest.param(" \t-1", "' \t-1", id="space-tab-then-minus"),
        pytest.param("\u00a0=1", "'\u00a0=1", id="nbsp-then-equals"),
        pytest.param("\u3000=1", "'\u3000=1", id="ideographic-space-then-equals"),
        # full-width look-alikes, alone or behind whitespace
        pytest.param("\uff1dcmd|' /C calc'!A0", "'\uff1dcmd|' /C calc'!A0", id="fullwidth-equals"),
        pytest.param("\uff0b1", "'\uff0b1", id="fullwidth-plus"),
        pytest.param("\uff0d1", "'\uff0d1", id="fullwidth-minus"),
        pytest.param("\uff20SUM(A1)", "'\uff20SUM(A1)", id="fullwidth-at"),
        pytest.param(" \uff1d1", "' \uff1d1", id="space-then-fullwidth-equals"),
        # left alone: no trigger at the start, once whitespace is skipped
        pytest.param(
            "Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)", id="user-agent"
        ),
        pytest.param("a=b", "a=b", id="equals-inside"),
        pytest.param(" plain", " plain", id="space-then-text"),
        pytest.param("\nline", "\nline", id="lf-then-text"),
        pytest.param("'=already", "'=already", id="already-quoted"),
        pytest.param("", "", id="empty"),
        pytest.param("   ", "   ", id="only-spaces"),
    ],
)
def test_defuse(value: str, expected: str) -> None:
    assert defuse(value) == expected


def test_csv_export_quotes_a_formula_behind_whitespace() -> None:
    item: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    item.update(id=1, user_agent=" =cmd|' /C calc'!A0", reason="\uff20SUM(A1)")
    row = next(csv.DictReader(io.StringIO("".join(to_csv([item])), newline="")))
    assert row["user_agent"] == "' =cmd|' /C calc'!A0"
    assert row["reason"] == "'\uff20SUM(A1)"
    assert row["id"] == "1"


def test_csv_export_shows_control_characters_visibly() -> None:
    """C0 (but tab and line feed, which a quoted cell holds), DEL and C1 controls from a user
    agent or a certificate subject never reach the file raw (app.services.text)."""
    item: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    item.update(
        id=1,
        user_agent="UA\x1b[2J\x9b31m\x85\x7f",
        reason="ok\rFAKE",
        details={"subject": "CN=a\x1bb\x85\x7f"},
        address="line\nbreak\ttab",
    )
    text = "".join(to_csv([item]))
    assert not any(ch in text for ch in "\x1b\x9b\x85\x7f")
    row = next(csv.DictReader(io.StringIO(text, newline="")))
    assert row["user_agent"] == "UA\\u001b[2J\\u009b31m\\u0085\\u007f"
    assert row["reason"] == "ok\\u000dFAKE"
    assert json.loads(row["details"]) == {"subject": "CN=a\x1bb\x85\x7f"}
    assert row["address"] == "line\nbreak\ttab"


def test_a_cr_is_neutralised_before_the_formula_guard_looks() -> None:
    item: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    item.update(id=1, user_agent="\r=1+1", reason="\n=1+1")
    row = next(csv.DictReader(io.StringIO("".join(to_csv([item])), newline="")))
    assert row["user_agent"] == "\\u000d=1+1"
    assert row["reason"] == "'\n=1+1"


def test_json_lines_export_escapes_every_control_and_round_trips() -> None:
    item: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    item.update(
        id=1,
        user_agent="UA\x1b[2J\x9b31m\x85\x7f\r\n\t\x00",
        details={"subject": "CN=a\x1bb\x85\x7f"},
    )
    text = "".join(to_jsonl([item]))
    assert text.endswith("\n") and text.count("\n") == 1
    assert text.isascii() and text[:-1].isprintable()
    assert json.loads(text) == item

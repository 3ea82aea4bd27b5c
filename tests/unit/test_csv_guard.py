"""The CSV export's formula guard (OWASP "CSV Injection"): which cells get a leading apostrophe."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from app.services.audit_queries import COLUMNS, defuse, to_csv


@pytest.mark.parametrize(("value", "expected"), [
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
    pytest.param("\n=HYPERLINK(\"x\")", "'\n=HYPERLINK(\"x\")", id="lf-then-equals"),
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
    pytest.param("Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (X11; Linux x86_64)",
                 id="user-agent"),
    pytest.param("a=b", "a=b", id="equals-inside"),
    pytest.param(" plain", " plain", id="space-then-text"),
    pytest.param("\nline", "\nline", id="lf-then-text"),
    pytest.param("'=already", "'=already", id="already-quoted"),
    pytest.param("", "", id="empty"),
    pytest.param("   ", "   ", id="only-spaces"),
])
def test_defuse(value: str, expected: str) -> None:
    assert defuse(value) == expected


def test_csv_export_quotes_a_formula_behind_whitespace() -> None:
    item: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    item.update(id=1, user_agent=" =cmd|' /C calc'!A0", reason="\uff20SUM(A1)")
    row = next(csv.DictReader(io.StringIO("".join(to_csv([item])), newline="")))
    assert row["user_agent"] == "' =cmd|' /C calc'!A0"
    assert row["reason"] == "'\uff20SUM(A1)"
    assert row["id"] == "1"

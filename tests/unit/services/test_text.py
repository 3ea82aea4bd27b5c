"""Control characters in what Keystile prints or exports (``app.services.text``)."""

from __future__ import annotations

import json

import pytest

from app.services.text import csv_text, json_text, terminal_text

#: every control character: C0, DEL and C1 (Unicode category Cc)
CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]]


@pytest.mark.parametrize(
    ("value", "terminal", "csv"),
    [
        pytest.param(
            "CN=ev\x1b[31mil", "CN=ev\\u001b[31mil", "CN=ev\\u001b[31mil", id="c0-esc-ansi-colour"
        ),
        pytest.param("ok\rFAKE", "ok\\u000dFAKE", "ok\\u000dFAKE", id="c0-cr-overwrites-line"),
        pytest.param("a\x00b", "a\\u0000b", "a\\u0000b", id="c0-nul"),
        pytest.param("a\x07b\x08", "a\\u0007b\\u0008", "a\\u0007b\\u0008", id="c0-bell-backspace"),
        pytest.param("a\tb", "a\\u0009b", "a\tb", id="tab-kept-in-csv-only"),
        pytest.param("a\nb", "a\\u000ab", "a\nb", id="lf-kept-in-csv-only"),
        pytest.param("a\x7fb", "a\\u007fb", "a\\u007fb", id="del"),
        pytest.param("Mozilla\x9b2J", "Mozilla\\u009b2J", "Mozilla\\u009b2J", id="c1-csi"),
        pytest.param(
            "x\x9d0;title\x9c", "x\\u009d0;title\\u009c", "x\\u009d0;title\\u009c", id="c1-osc-st"
        ),
        pytest.param(
            "\x80\x85\x9f", "\\u0080\\u0085\\u009f", "\\u0080\\u0085\\u009f", id="c1-edges-and-nel"
        ),
        pytest.param(
            "Zoë Ådahl 中文 \u00a0\u00a1 🔑",
            "Zoë Ådahl 中文 \u00a0\u00a1 🔑",
            "Zoë Ådahl 中文 \u00a0\u00a1 🔑",
            id="printable-unicode-untouched",
        ),
        pytest.param("C:\\u001b", "C:\\u001b", "C:\\u001b", id="backslashes-untouched"),
    ],
)
def test_text_outputs(value: str, terminal: str, csv: str) -> None:
    assert terminal_text(value) == terminal
    assert csv_text(value) == csv


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_no_control_character_survives(control: str) -> None:
    value = f"a{control}b"
    assert terminal_text(value) == f"a\\u{ord(control):04x}b"
    assert terminal_text(value).isprintable()
    if control in "\t\n":
        assert csv_text(value) == value
    else:
        assert csv_text(value).isprintable()
    out = json_text({"v": value})
    assert out.isascii() and out.isprintable()
    assert json.loads(out) == {"v": value}


def test_json_is_exact_and_valid() -> None:
    value = {"subject": "CN=ev\x1b[31mil\x85\x9b\x7f\t\n", "n": 1, "ok": True, "none": None}
    out = json_text(value, indent=2)
    assert "\x7f" not in out and "\x1b" not in out and "\x85" not in out
    assert "\\u007f" in out and "\\u001b" in out and "\\u0085" in out
    assert json.loads(out) == value

"""Text that Keystile prints or exports, with control characters neutralised.

Stored values come from outside: certificate subjects and issuers, user agents, labels,
display names, account-request messages. A control character in one of them reaches an
operator's terminal or spreadsheet when the CLI prints it or the audit trail is exported,
and terminals act on them: C0 controls (U+0000-U+001F: ESC starts an ANSI escape sequence,
CR moves back over a line already printed), DEL (U+007F) and the C1 controls
(U+0080-U+009F: many terminals take U+009B as CSI, U+009D as OSC; ECMA-48 §5.3). Every
printed or exported value goes through this module:

- text (the CLI's lines, CSV cells) shows each control as the six characters ``\\u001b``,
  ``\\u0085``: visible, and the same notation JSON uses. CSV keeps tab and line feed, which
  its quoting carries inside a cell (RFC 4180 §2.6); a line of terminal output keeps none.
- JSON stays exact: every control is a ``\\uXXXX`` escape (RFC 8259 §7), so the output is
  plain ASCII, valid, and decodes to the stored value.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: C0, DEL and C1: Unicode's general category Cc, exactly
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: the same without tab and line feed, which a quoted CSV cell carries
_CONTROL_BUT_TAB_LF = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def terminal_text(value: str) -> str:
    """``value`` for one line of terminal output: every control character, tab and line feed
    included, shown as ``\\uXXXX``."""
    return _CONTROL.sub(_escape, value)


def csv_text(value: str) -> str:
    """``value`` for a CSV cell: control characters shown as ``\\uXXXX``, except tab and line
    feed (a quoted cell holds them; a carriage return would hide what precedes it)."""
    return _CONTROL_BUT_TAB_LF.sub(_escape, value)


def json_text(value: Any, **dumps_options: Any) -> str:
    """``json.dumps(value)`` in plain ASCII: every control character (C0, DEL, C1) and every
    other character outside printable ASCII is a ``\\uXXXX`` escape, and decodes back."""
    return json.dumps(value, ensure_ascii=True, **dumps_options)

"""Regular expressions in access rules, limited to a subset that cannot backtrack
catastrophically.

Python's ``re`` backtracks: ``(a+)+$`` or ``(a|a)*$`` against a long path takes time
exponential in its length (OWASP "Regular expression Denial of Service"), and a path comes
from whoever sends the request. A rule's expression is therefore checked once, at start-up,
against what makes backtracking explode: a repetition inside a repetition, a repeated
alternation, a back-reference, and more than :data:`MAX_UNBOUNDED` open-ended repetitions
(each one multiplies the worst case by the path's length, itself capped by
:data:`app.services.access.paths.MAX_PATH_LENGTH`).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The parser ``re`` itself uses (no public API exposes the parsed form; typeshed has no
# stubs for these private modules, hence the untyped import).
sre_parse: Any = importlib.import_module("re._parser")
sre_constants: Any = importlib.import_module("re._constants")

#: open-ended repetitions (``*``, ``+``, ``{n,}``) allowed in one expression
MAX_UNBOUNDED = 3
MAX_PATTERN_LENGTH = 500

_REPEATS = {
    sre_constants.MAX_REPEAT,
    sre_constants.MIN_REPEAT,
    getattr(sre_constants, "POSSESSIVE_REPEAT", sre_constants.MAX_REPEAT),
}
_BACKREFS = {sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS}


class UnsafePattern(ValueError):
    """An expression outside the safe subset, or not an expression at all."""


def compile_path_pattern(source: str) -> re.Pattern[str]:
    """Compile ``source`` after checking it is in the safe subset.

    Raises:
        UnsafePattern: with a sentence saying what is wrong.
    """
    if not source:
        raise UnsafePattern("the expression is empty")
    if len(source) > MAX_PATTERN_LENGTH:
        raise UnsafePattern(f"the expression is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        parsed = sre_parse.parse(source)
        compiled = re.compile(source)
    except (re.error, RecursionError, OverflowError) as exc:
        raise UnsafePattern(f"not a regular expression: {exc}") from None
    unbounded = _check(list(parsed), inside_repeat=False)
    if unbounded > MAX_UNBOUNDED:
        raise UnsafePattern(f"more than {MAX_UNBOUNDED} open-ended repetitions (* + {{n,}})")
    return compiled


def _check(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> int:
    """Walk the parsed expression; return the count of open-ended repetitions."""
    unbounded = 0
    for op, arg in items:
        if op in _BACKREFS:
            raise UnsafePattern("back-references are not allowed")
        if op in _REPEATS:
            _low, high, body = arg
            if high > 1 and inside_repeat:
                raise UnsafePattern(
                    "a repetition inside a repetition, like (a+)+, can take exponential time"
                )
            if high > 1 and _has_branch(list(body)):
                raise UnsafePattern(
                    "a repeated alternation, like (a|ab)*, can take exponential time"
                )
            unbounded += high == sre_constants.MAXREPEAT
            unbounded += _check(list(body), inside_repeat=inside_repeat or high > 1)
        else:
            for sub in _subpatterns(op, arg):
                unbounded += _check(sub, inside_repeat=inside_repeat)
    return unbounded


def _subpatterns(op: Any, arg: Any) -> list[list[tuple[Any, Any]]]:
    if op is sre_constants.SUBPATTERN:
        return [list(arg[-1])]
    if op is sre_constants.BRANCH:
        return [list(b) for b in arg[1]]
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [list(arg[1])]
    if op is getattr(sre_constants, "ATOMIC_GROUP", None):
        return [list(arg)]
    return []


def _has_branch(items: list[tuple[Any, Any]]) -> bool:
    for op, arg in items:
        if op is sre_constants.BRANCH:
            return True
        if any(_has_branch(sub) for sub in _subpatterns(op, arg)):
            return True
    return False

"""axe-core (vendored under tests/e2e/vendor/axe-core, MPL-2.0) run in a real browser page.

The pages' Content-Security-Policy allows no injected script, so the page must belong to a
browser context made with ``bypass_csp=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_DIR = Path(__file__).resolve().parents[1] / "e2e" / "vendor" / "axe-core"
AXE_SCRIPT = AXE_DIR / "axe.min.js"
AXE_VERSION = "4.14.1"
#: axe's impact levels, mildest first
IMPACTS = ("minor", "moderate", "serious", "critical")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Every axe-core violation on ``page`` as it is now: rule id, impact, help text and up
    to five offending elements (CSS selectors)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    violations: list[dict[str, Any]] = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return violations


def at_least(violations: list[dict[str, Any]], impact: str) -> list[dict[str, Any]]:
    """The violations of ``impact`` or worse."""
    floor = IMPACTS.index(impact)
    return [v for v in violations if IMPACTS.index(v["impact"] or "minor") >= floor]

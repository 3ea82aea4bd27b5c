"""The names of credential strengths in rules and headers, from :class:`app.models.Strength`.

``Strength`` is the one ordered list (password < certificate < synced passkey < device-bound
key < attested hardware key, docs/credentials.md) that step-up and every page use; these are
its members' names in lower case with hyphens.
"""

from __future__ import annotations

from app.models import Strength

_BY_NAME = {s.name.lower().replace("_", "-"): s for s in Strength}


def strength_name(strength: Strength) -> str:
    """``Strength.HARDWARE_KEY`` -> ``hardware-key``."""
    return strength.name.lower().replace("_", "-")


def strength_by_name(name: str) -> Strength | None:
    """The strength a rule names, or None when the name is not one."""
    return _BY_NAME.get(name)

"""Where the templates, static files and Alembic migrations are.

A source checkout keeps them beside the package (``templates/``, ``static/``,
``migrations/``: the Flask tutorial's layout and Alembic's usual place); an installed wheel
has no checkout around it, so ``setup.py`` puts each inside the package (``app/templates``
and so on). Both are found here, the installed place first.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """``app/<name>`` in an installed wheel, else ``<checkout>/<name>``."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


TEMPLATES = resource_dir("templates")
STATIC = resource_dir("static")
MIGRATIONS = resource_dir("migrations")

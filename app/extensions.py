"""Flask extensions, created unbound and wired by create_app()."""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

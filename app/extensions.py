"""Flask extensions, created unbound and wired by create_app()."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from app.web.client import throttle_key

csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=throttle_key, default_limits=[], headers_enabled=True,
                  swallow_errors=False)

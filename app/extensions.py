"""Flask extensions, created unbound and wired by create_app()."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from app.web.client import client_address

csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True,
                  swallow_errors=False)

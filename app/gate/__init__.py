"""The forward-auth gate in front of sites Keystile protects (see :mod:`app.gate.views`)."""

from app.gate.handoff import bp as handoff_bp
from app.gate.jwks import bp as jwks_bp
from app.gate.views import bp

__all__ = ["bp", "handoff_bp", "jwks_bp"]

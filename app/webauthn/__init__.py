"""Passkeys and security keys: the JSON endpoints under ``/webauthn/``."""

from app.webauthn.views import bp

__all__ = ["bp"]

"""Administration: account requests, users, credentials, audit (admins only)."""

from app.admin.views import bp

__all__ = ["bp"]

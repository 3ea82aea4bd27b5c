"""Administration: dashboard, users, audit log and account requests (admins only)."""

from app.admin import attacks, audit_log, dashboard, users  # noqa: F401 - their routes join bp
from app.admin.views import bp

__all__ = ["bp"]

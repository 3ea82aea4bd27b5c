"""Administration: dashboard, users, audit log and account requests (admins only)."""

from app.admin import (  # noqa: F401 - their routes join bp
    attacks,
    audit_log,
    dashboard,
    groups,
    users,
)
from app.admin.views import bp

__all__ = ["bp"]

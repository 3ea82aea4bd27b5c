"""The signed-in person's own page: credentials, sessions, recent sign-ins, notices."""

from app.account import targeted  # noqa: F401 - its template global joins bp
from app.account.views import bp

__all__ = ["bp"]

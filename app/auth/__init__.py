"""Sign-in, sign-out, account requests and enrolment links."""

from app.auth.views import bp

__all__ = ["bp"]

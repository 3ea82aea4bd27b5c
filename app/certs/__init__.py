"""Client-certificate sign-in (mTLS) and certificate enrolment."""

from app.certs.views import bp

__all__ = ["bp"]

"""The shape of every refusal a service reports: a stable ``code`` and a user-safe ``message``."""

from __future__ import annotations


class ServiceError(ValueError):
    """A refused change or input. ``code`` is for programs and audit rows; ``message`` is one
    sentence the person at the browser or CLI can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

"""The smallest WSGI applications: what gunicorn and Flask cost before any of Keystile runs
(bench/framework_floor.py), and the least a password sign-in can cost (bench/password_login.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

BODY = b'{"status":"ok"}'
#: the password of every benchmark account
PASSWORD = "benchmark passphrase for everyone"


def raw(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI callable: gunicorn's own per-request work."""
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]


flask_app = Flask(__name__)


@flask_app.get("/healthz")
def healthz() -> dict[str, str]:
    """An empty Flask view: gunicorn plus Flask's request handling."""
    return {"status": "ok"}


class BarePasswordSignIn:
    """The least a password sign-in can cost under gunicorn, for bench/password_login.py:
    the same three requests (``GET /login`` with a form, ``POST /login`` verifying one argon2id
    hash at Keystile's parameters, ``GET /api/session``), with no session, CSRF, throttling,
    database or audit. Keystile's ratio can only approach this one's."""

    PAGE = b'<form method="post"><input name="csrf_token" type="hidden" value="bare"></form>'
    SESSION = b'{"authenticated":true}'

    def __init__(self) -> None:
        from app.services.passwords import HashParameters, Passwords

        self.passwords = Passwords(HashParameters())
        self.digest = self.passwords.hash(PASSWORD)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        from urllib.parse import parse_qs

        if environ["PATH_INFO"] == "/login" and environ["REQUEST_METHOD"] == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(size).decode())
            if not self.passwords.verify(self.digest, form.get("password", [""])[0]):
                start_response("401 Unauthorized", [("Content-Length", "0")])
                return [b""]
            start_response(
                "303 See Other",
                [
                    ("Location", "/account"),
                    ("Content-Length", "0"),
                    ("Set-Cookie", "s=1; Path=/; HttpOnly"),
                ],
            )
            return [b""]
        body, kind = (
            (self.PAGE, "text/html")
            if environ["PATH_INFO"] == "/login"
            else (self.SESSION, "application/json")
        )
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

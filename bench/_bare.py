"""The smallest WSGI applications, for bench/framework_floor.py: what gunicorn and Flask cost
before any of Keystile runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

BODY = b'{"status":"ok"}'


def raw(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A WSGI callable: gunicorn's own per-request work."""
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]


flask_app = Flask(__name__)


@flask_app.get("/healthz")
def healthz() -> dict[str, str]:
    """An empty Flask view: gunicorn plus Flask's request handling."""
    return {"status": "ok"}

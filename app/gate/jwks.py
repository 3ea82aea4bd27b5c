"""``GET /.well-known/jwks.json``: the public keys of the gate's signed assertion
(:mod:`app.services.assertion`), a JWK Set (RFC 7517 §5) a protected site fetches to verify
``Remote-Assertion``. Not found while the assertion is off: no key is made for nothing."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify

from app.web.context import assertion_keys, settings

bp = Blueprint("jwks", __name__)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    if not settings().gate_assertion:
        abort(404)
    resp = jsonify(assertion_keys().jwks())
    # Sites may cache the set briefly; a new kid they do not know sends them back for it.
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp

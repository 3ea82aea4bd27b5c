"""Challenges this browser is waiting to answer, kept in its signed cookie session.

The server stores each challenge as a one-time token, hashed (:mod:`app.services.tokens`);
only the browser session that asked for it holds the token's secret, so a response made for
one browser cannot be spent from another (threat model C.11). A few may be pending at once
per ceremony, because every sign-in page starts one for autofill and people open tabs; the
response's own challenge picks which. The oldest is forgotten beyond :data:`MAX_PENDING`
(its token still expires on its own).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from app.services.passkeys import Ceremony, Challenge, challenge_of

#: a browser's cookie session (``flask.session``, or the sign-in edge's)
State = MutableMapping[str, Any]

SESSION_KEY = "webauthn"
MAX_PENDING = 4


def remember(session: State, ceremony: Ceremony, challenge: Challenge) -> None:
    """Keep the secret for ``challenge`` in this browser's session."""
    state = dict(session.get(SESSION_KEY) or {})
    entries = [e for e in state.get(ceremony, []) if isinstance(e, list) and len(e) == 2]
    entries.append([challenge.key, challenge.secret])
    state[ceremony] = entries[-MAX_PENDING:]
    session[SESSION_KEY] = state


def take(session: State, ceremony: Ceremony, body: bytes) -> str:
    """Forget and return the secret for the challenge ``body`` answers ("" if none)."""
    key = challenge_of(body)
    state = dict(session.get(SESSION_KEY) or {})
    entries = state.get(ceremony) or []
    secret = next((e[1] for e in entries if isinstance(e, list) and e[0] == key), "")
    if key and secret:
        state[ceremony] = [e for e in entries if e[0] != key]
        session[SESSION_KEY] = state
    return str(secret)

"""Certificate sign-in at the edge: ``GET /login`` in ``auto`` mode.

The same answer as :func:`app.certs.views.auto_sign_in` when a browser that is not signed
in, and did not sign out (threat model E.23), presents a certificate already pinned to a
live account: a new session and a 303 to the account page. Everything else (no
certificate, a header from an untrusted peer, a refused or unknown certificate, a first use
by SAN mapping, a ``next`` address) goes to Flask, which shows the page or audits the
refusal as before.
"""

from __future__ import annotations

import ssl

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from app.edge.exchange import Exchange
from app.models import utcnow
from app.web import client_cert
from app.web.client_cert import Presented


def auto_sign_in(x: Exchange) -> Response | None:
    s = x.edge.settings
    if s.cert_login != "auto" or x.auth_cookie:  # (a cheap first look: no certificate read)
        return None
    try:
        shown = client_cert.read(x.environ, x.request.headers, s)
    except (ValueError, ssl.SSLError):
        return None
    if not isinstance(shown, Presented) or not client_cert.may_sign_in_automatically(
        s, signed_in=False, signed_out=bool(x.session.get("signed_out"))
    ):
        return None
    now = utcnow()
    match = client_cert.judge(x.db, shown, x.edge.cert_policy.policy(), s, now=now)
    if match is None or not match.ok:
        return None
    accepted = client_cert.accept(x.db, match, client=x.client, now=now, mailer=x.edge.mailer)
    if accepted is None:
        return None
    x.sign_in(
        user=accepted.user,
        credential=accepted.credential,
        method="certificate",
        used_before=accepted.used_before,
    )
    return x.finish(redirect(x.request.root_path + x.edge.account_path, 303))

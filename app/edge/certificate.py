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
from app.services import cert_auth, sessions
from app.web import client_cert
from app.web.client_cert import Presented


def auto_sign_in(x: Exchange) -> Response | None:
    s = x.edge.settings
    if s.cert_login != "auto" or x.auth_cookie:
        return None
    try:
        shown = client_cert.read(x.environ, x.request.headers, s)
    except (ValueError, ssl.SSLError):
        return None
    if not isinstance(shown, Presented) or x.session.get("signed_out"):
        return None
    now = utcnow()
    match = client_cert.judge(x.db, shown, x.edge.cert_policy.policy(), s, now=now)
    if match is None or not match.ok or match.user is None or match.credential is None:
        return None
    used_before = match.credential.last_used_at is not None
    credential = cert_auth.complete_sign_in(x.db, match, client=x.client, now=now,
                                            mailer=x.edge.mailer)
    if credential is None:
        return None
    opened = sessions.open_for_sign_in(
        x.db, user=match.user, credential=credential, method="certificate", client=x.client,
        now=now, timeouts=x.edge.timeouts, mailer=x.edge.mailer,
        credential_used_before=used_before)
    x.signed_in(opened.secret)
    return x.finish(redirect(x.request.root_path + x.edge.account_path, 303))

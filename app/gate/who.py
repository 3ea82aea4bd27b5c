"""Who a forward-auth check is about: the Keystile session in the request's cookie (on
Keystile's own host) or behind the protected host's own cookie (:mod:`app.gate.handoff`),
or a certificate the trusted proxy forwarded with the check.

The session is found exactly as on Keystile's own pages (:mod:`app.web.auth_state`), so
sign-out, "sign out everywhere", idle and absolute timeouts and an administrator's
revocation end access at the next check. A certificate is judged by the same code as the
sign-in page (:func:`app.web.client_cert.judge`, :func:`app.services.cert_auth.accept`):
a pinned certificate, or one valid in CA mode, passes on the spot without a session.

Sign-out holds for browsers (threat model E.23): a browser that signed out (the cookie
session's mark) or whose session cookie no longer finds a live session is not signed in
again by the certificate it keeps presenting; it is sent to the sign-in page, which offers
"Continue as ...". The same holds for a protected host's cookie whose session has ended.
A client with no Keystile cookie at all (``curl --cert``) is not a browser session and
passes with its certificate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import g, request, session
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import get_db
from app.gate.handoff import GATE_COOKIE
from app.gate.original import Original
from app.models import Strength, utcnow
from app.models.base import Executor
from app.services import cert_auth, gate, handoff
from app.services.access import request_host
from app.services.audit import Client
from app.services.cert_auth import CertificatePolicy
from app.services.gate import Identity
from app.services.notices import Mailer
from app.web import auth_state, client_cert
from app.web.client import current_client
from app.web.client_cert import Presented
from app.web.context import cert_policy, mailer, session_timeouts, settings


def identify(asked: Original) -> Identity | None:
    """The identity this check carries, or None (nobody, or a held browser)."""
    row = auth_state.current_session()
    # The check's answer goes to the proxy, not the browser: it never sets a cookie.
    g.clear_session_cookie = False
    db = get_db()
    if row is None and (host_secret := request.cookies.get(GATE_COOKIE)):
        row = handoff.resolve(
            db,
            host_secret,
            host=request_host(asked.host),
            now=utcnow(),
            timeouts=session_timeouts(),
            binding=auth_state.key_binding(),
        )
    if row is not None:
        return gate.identity_of(
            db,
            row.user,
            strength=gate.credential_strength(row.credential),
            method=row.method,
            signed_in_at=row.created_at,
        )
    if _held_browser():
        return None
    return _by_certificate()


def _held_browser() -> bool:
    return held_browser(request.cookies, session)


def held_browser(cookies: Mapping[str, str], cookie_session: Mapping[str, Any]) -> bool:
    """A browser that signed out (the cookie session's mark), or that carries a session
    cookie that found no live session: its certificate does not sign it in again (E.23)."""
    return bool(
        cookie_session.get("signed_out")
        or cookies.get(auth_state.COOKIE)
        or cookies.get(GATE_COOKIE)
    )


def _by_certificate() -> Identity | None:
    s = settings()
    if s.cert_login == "off":
        return None
    shown = client_cert.presented()
    if shown is None:
        return None
    return certificate_identity(
        get_db(),
        shown,
        s,
        cert_policy().policy(),
        client=current_client(),
        now=utcnow(),
        mailer=mailer(),
    )


def certificate_identity(
    db: Session,
    shown: Presented,
    s: Settings,
    policy: CertificatePolicy,
    *,
    client: Client,
    now: datetime,
    mailer: Mailer,
    reader: Executor | None = None,
) -> Identity | None:
    """The identity a presented certificate signs in on the spot (pinned, or valid in CA
    mode), judged and accepted as on the sign-in page; None when it signs in nobody. The
    certificate is judged on ``reader`` (the edge's plain connection; ``db`` by default)
    and accepted on ``db``.

    Refusals are audited (and committed) by :func:`app.services.cert_auth.accept`; an
    accepted certificate is not audited per check: a check is one request, not a sign-in
    that opens a session. A proven pin, the common case, is one query and no write: its
    owner's identity comes with it. Commits: a first use in CA mode pins the key, and a
    handshake proves an uploaded pin.
    """
    if shown.cert is None:
        return None
    match = client_cert.judge(db if reader is None else reader, shown, policy, s, now=now)
    if match is None:
        return None
    cred = cert_auth.accept(db, match, client=client, now=now, mailer=mailer)
    if cred is None or match.user is None:
        return None
    if cred is match.credential:  # accepted as read: nothing was written
        return gate.identity_of_pin(
            match.credential, strength=Strength.CERTIFICATE, method="certificate", signed_in_at=now
        )
    db.commit()
    return gate.identity_of_user(
        db, match.user.id, strength=Strength.CERTIFICATE, method="certificate", signed_in_at=now
    )

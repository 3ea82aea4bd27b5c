"""The client certificate of this request, from our own TLS or from the trusted proxy.

Two sources, never combined:
- Keystile's own TLS (``keystile dev serve``, or gunicorn with ``--certfile``): the peer
  certificate of the connection, which a client cannot inject.
- A TLS-terminating proxy: the configured header format, read only when the raw socket
  peer is in ``KEYSTILE_TRUSTED_PROXIES`` and, when configured, the shared secret matches
  in constant time (docs/proxies.md, threat model A.1-A.3). Otherwise the header is
  ignored, the attempt audited once and a warning logged.
"""

from __future__ import annotations

import hmac
import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from cryptography import x509
from flask import g, request
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers

from app.config import Settings
from app.db import get_db
from app.models.base import Executor
from app.proxy import (
    CertificateSource,
    ProxyHeaderError,
    all_known_certificate_headers,
    get_adapter,
)
from app.services import cert_auth
from app.services.audit import Client, Event, Identified, record
from app.services.cert_auth import CertificateMatch, CertificatePolicy
from app.services.certificates import describe
from app.services.notices import Mailer
from app.services.sessions import KeyBinding
from app.web.client import current_client, raw_peer_of
from app.web.context import settings

log = logging.getLogger(__name__)

#: the proxy's own verdict on the chain, when it verified one (nginx/Apache, HAProxy)
PROXY_SUCCESS = frozenset({"SUCCESS", "0"})
#: formats whose proxy reports its own chain verification; CA mode requires its success
VERIFYING_FORMATS = frozenset({"nginx", "apache", "haproxy"})


@dataclass(frozen=True)
class Presented:
    """A certificate the client proved it holds, or why what arrived was refused."""

    cert: x509.Certificate | None
    chain: tuple[x509.Certificate, ...] = ()
    source: str = ""  #: tls | proxy
    #: the proxy's own verdict (nginx/Apache ``SUCCESS``, HAProxy ``0``), if it sent one
    proxy_verify: str | None = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Ignored:
    """A certificate header that did not come from the trusted proxy (audited once)."""

    reason: str  #: untrusted_peer | bad_proxy_secret


@cache
def _adapter(fmt: str, header: str) -> CertificateSource:
    return get_adapter(fmt, header=header or None)


def _own_tls_certificate(environ: Mapping[str, Any]) -> x509.Certificate | None:
    from app.web.proxy_scheme import TRANSPORT_SCHEME

    scheme = environ.get(TRANSPORT_SCHEME, environ.get("wsgi.url_scheme"))
    if scheme != "https":
        return None
    pem = environ.get("SSL_CLIENT_CERT")  # werkzeug's dev server
    if pem:
        return x509.load_pem_x509_certificate(str(pem).encode())
    sock = environ.get("gunicorn.socket")  # gunicorn with --certfile
    if isinstance(sock, ssl.SSLSocket):
        der = sock.getpeercert(binary_form=True)
        if der:
            return x509.load_der_x509_certificate(der)
    return None


def _secret_ok(headers: Headers, s: Settings) -> bool:
    if not s.proxy_secret:
        return True
    sent = headers.get(s.proxy_secret_header, "")
    return hmac.compare_digest(sent.encode(), s.proxy_secret.encode())


def from_trusted_proxy(environ: Mapping[str, Any], headers: Headers, s: Settings) -> bool:
    """Whether the raw socket peer is a trusted proxy and, when configured, sent the shared
    secret: the one test before any proxy-set header is read."""
    return s.trusted_proxies.trust(raw_peer_of(environ)) and _secret_ok(headers, s)


def _carries_certificate_header(received: list[tuple[str, str]], s: Settings) -> bool:
    names = {name.lower() for name, _ in received}
    own = {s.cert_header.lower()} if s.cert_header else set()
    return bool(names & (all_known_certificate_headers() | own))


def read(environ: Mapping[str, Any], headers: Headers, s: Settings) -> Presented | Ignored | None:
    """What a request presents: its own TLS peer's certificate, or the trusted proxy's
    forwarded one; a header from anyone else is :class:`Ignored`.

    Raises:
        ValueError, ssl.SSLError: a certificate that cannot be read.
    """
    own = _own_tls_certificate(environ)
    if own is not None:
        return Presented(own, source="tls")
    received = list(headers.items())
    if not _carries_certificate_header(received, s):
        return None
    if not s.trusted_proxies.trust(raw_peer_of(environ)):
        return Ignored("untrusted_peer")
    if not _secret_ok(headers, s):
        return Ignored("bad_proxy_secret")
    try:
        forwarded = _adapter(s.cert_header_format, s.cert_header).extract(received)
    except ProxyHeaderError as exc:
        return Presented(None, source="proxy", error_code=exc.code, error_message=str(exc))
    if forwarded is None:
        return None
    return Presented(
        forwarded.leaf, forwarded.chain, source="proxy", proxy_verify=forwarded.proxy_verify
    )


def judge(
    db: Executor, shown: Presented, policy: CertificatePolicy, s: Settings, *, now: datetime
) -> CertificateMatch | None:
    """What a presented certificate means for signing in (None: nothing to judge); it
    reads (``db`` may be a plain connection) and never writes."""
    if shown.cert is None:
        return None
    match = cert_auth.identify(db, shown.cert, shown.chain, policy=policy, now=now)
    proxy_must_verify = (
        policy.ca_mode and shown.source == "proxy" and s.cert_header_format in VERIFYING_FORMATS
    )
    if proxy_must_verify and shown.proxy_verify not in PROXY_SUCCESS and match.ok:
        # CA mode: the proxy's handshake must have verified the chain too (A.5).
        match.user, match.credential = None, None
        match.reason = "proxy_verify_failed"
        match.message = "The proxy could not verify this certificate."
    return match


def may_sign_in_automatically(s: Settings, *, signed_in: bool, signed_out: bool) -> bool:
    """Whether a certificate may sign this browser in without a click: ``auto`` mode, a
    browser not signed in, and not one that signed out (the sign-out hold, E.23: after a
    sign-out only an explicit "Continue as ..." signs it in again)."""
    return s.cert_login == "auto" and not signed_in and not signed_out


@dataclass(frozen=True)
class Accepted:
    """A certificate accepted for a sign-in: its owner and pin, stored as used."""

    user: Identified
    credential: Identified
    used_before: bool  #: whether the pin had signed in before (no new-method notice)


def accept(
    db: Session, match: CertificateMatch, *, client: Client, now: datetime, mailer: Mailer
) -> Accepted | None:
    """Accept a judged certificate for a sign-in, for the Flask views and the sign-in edge
    alike (:func:`app.services.cert_auth.complete_sign_in` writes the pin's use and the audit
    row, or audits the refusal). None: refused."""
    used_before = match.credential is not None and match.credential.last_used_at is not None
    credential = cert_auth.complete_sign_in(db, match, client=client, now=now, mailer=mailer)
    if credential is None or match.user is None:
        return None
    return Accepted(match.user, credential, used_before)


def key_binding(
    environ: Mapping[str, Any],
    headers: Headers,
    s: Settings,
    *,
    gate: bool,
    client: Callable[[], Client],
) -> KeyBinding | None:
    """The certificate-key binding of sessions this request enforces
    (:class:`app.services.sessions.KeyBinding`), or None where it does not apply.

    It applies only where the trusted proxy forwards the client certificate with every
    request: a forward-auth check (``gate``), and Keystile's own pages in ``auto`` mode.
    Not in ``explicit`` mode (the certificate is shown to a separate host only), not to
    requests from anyone but the trusted proxy (no proxy: Keystile's own TLS serves only
    one of its addresses), and not when ``KEYSTILE_CERT_BOUND_SESSIONS`` is off or
    certificate sign-in is.
    """
    if not s.cert_bound_sessions or s.cert_login == "off":
        return None
    if not gate and s.cert_login != "auto":
        return None
    if not from_trusted_proxy(environ, headers, s):
        return None

    def presented() -> str | None:
        try:
            shown = read(environ, headers, s)
        except (ValueError, ssl.SSLError):
            return None
        if not isinstance(shown, Presented) or shown.cert is None:
            return None
        return describe(shown.cert).spki_sha256

    return KeyBinding(presented, client)


def _ignore(reason: str) -> None:
    log.warning("ignored a certificate header from %s: %s", current_client().address, reason)
    db = get_db()
    record(
        db,
        Event.CERTIFICATE_HEADER_IGNORED,
        client=current_client(),
        success=False,
        method="certificate",
        reason=reason,
    )
    db.commit()


def presented() -> Presented | None:
    """What this request presents (cached for the request); never raises."""
    if "presented_cert" not in g:
        try:
            shown = read(request.environ, request.headers, settings())
        except (ValueError, ssl.SSLError):
            shown = Presented(
                None, error_code="malformed", error_message="The certificate could not be read."
            )
        if isinstance(shown, Ignored):
            _ignore(shown.reason)
            shown = None
        g.presented_cert = shown
    result: Presented | None = g.presented_cert
    return result

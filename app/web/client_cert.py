"""The client certificate of this request, from our own TLS or from the trusted proxy.

Two sources, never combined:
- Keystile's own TLS (``keystile dev serve``, or gunicorn with ``--certfile``): the peer
  certificate of the connection, which a client cannot inject.
- A TLS-terminating proxy: the configured header format, read only when the raw socket
  peer is in ``KEYSTILE_TRUSTED_PROXIES`` and, when configured, the shared secret matches
  in constant time (proxy-headers.md, threat model A.1-A.3). Otherwise the header is
  ignored, the attempt audited once and a warning logged.
"""

from __future__ import annotations

import hmac
import logging
import ssl
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from flask import g, request

from app.db import get_db
from app.proxy import (
    CertificateSource,
    ProxyHeaderError,
    all_known_certificate_headers,
    get_adapter,
)
from app.services.audit import Event, record
from app.web.client import current_client, peer_is_trusted_proxy
from app.web.context import settings

log = logging.getLogger(__name__)


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


@cache
def _adapter(fmt: str, header: str) -> CertificateSource:
    return get_adapter(fmt, header=header or None)


def _own_tls_certificate() -> x509.Certificate | None:
    from app.web.proxy_scheme import TRANSPORT_SCHEME

    scheme = request.environ.get(TRANSPORT_SCHEME, request.environ.get("wsgi.url_scheme"))
    if scheme != "https":
        return None
    pem = request.environ.get("SSL_CLIENT_CERT")  # werkzeug's dev server
    if pem:
        return x509.load_pem_x509_certificate(str(pem).encode())
    sock = request.environ.get("gunicorn.socket")  # gunicorn with --certfile
    if isinstance(sock, ssl.SSLSocket):
        der = sock.getpeercert(binary_form=True)
        if der:
            return x509.load_der_x509_certificate(der)
    return None


def _secret_ok() -> bool:
    s = settings()
    if not s.proxy_secret:
        return True
    sent = request.headers.get(s.proxy_secret_header, "")
    return hmac.compare_digest(sent.encode(), s.proxy_secret.encode())


def _carries_certificate_header() -> bool:
    names = {k.lower() for k in request.headers.keys()}  # noqa: SIM118 - Headers iterate pairs
    s = settings()
    own = {s.cert_header.lower()} if s.cert_header else set()
    return bool(names & (all_known_certificate_headers() | own))


def _ignore(reason: str) -> None:
    log.warning("ignored a certificate header from %s: %s", current_client().address, reason)
    db = get_db()
    record(db, Event.CERTIFICATE_HEADER_IGNORED, client=current_client(), success=False,
           method="certificate", reason=reason)
    db.commit()


def _read() -> Presented | None:
    own = _own_tls_certificate()
    if own is not None:
        return Presented(own, source="tls")
    if not _carries_certificate_header():
        return None
    if not peer_is_trusted_proxy():
        _ignore("untrusted_peer")
        return None
    if not _secret_ok():
        _ignore("bad_proxy_secret")
        return None
    s = settings()
    try:
        forwarded = _adapter(s.cert_header_format, s.cert_header).extract(
            list(request.headers.items())
        )
    except ProxyHeaderError as exc:
        return Presented(None, source="proxy", error_code=exc.code, error_message=str(exc))
    if forwarded is None:
        return None
    return Presented(forwarded.leaf, forwarded.chain, source="proxy",
                     proxy_verify=forwarded.proxy_verify)


def presented() -> Presented | None:
    """What this request presents (cached for the request); never raises."""
    if "presented_cert" not in g:
        try:
            g.presented_cert = _read()
        except (ValueError, ssl.SSLError):
            g.presented_cert = Presented(None, error_code="malformed",
                                         error_message="The certificate could not be read.")
    result: Presented | None = g.presented_cert
    return result

"""Traefik: the ``passTLSClientCert`` middleware with ``pem: true``.

``X-Forwarded-Tls-Client-Cert`` holds the certificates the client presented, leaf first, each
as the base64 body of its PEM form (armour lines and newlines removed, so: base64 DER),
separated by commas. https://doc.traefik.io/traefik/middlewares/http/passtlsclientcert/

Traefik 2.8 to 2.9.1 also URL-escaped each certificate (traefik/traefik#9379, reverted by
traefik/traefik#9412); base64 has no ``%``, so a ``%`` identifies that variant unambiguously.

Traefik forwards no verdict (it depends on ``clientAuthType``), so ``proxy_verify`` is None.
Traefik removes these headers from requests coming from outside ``forwardedHeaders.trustedIPs``.
"""

from __future__ import annotations

from app.proxy.adapter import HeaderAdapter, forwarded_certificate
from app.proxy.base import ForwardedCertificate, ProxyHeaderError
from app.proxy.decoding import b64decode_strict, percent_decode
from app.proxy.der import MAX_CHAIN_CERTIFICATES, load_certificate
from app.proxy.headers import ReceivedHeaders


class TraefikAdapter(HeaderAdapter):
    """``X-Forwarded-Tls-Client-Cert``: comma-separated base64 DER, leaf first."""

    format_name = "traefik"
    default_certificate_header = "x-forwarded-tls-client-cert"
    certificate_header_carries_chain = True
    certificate_headers = ("x-forwarded-tls-client-cert",)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        value = received.value(self.certificate_header)
        if value is None:
            return None
        if "%" in value:
            value = percent_decode(value)
        parts = value.split(",")
        if len(parts) > 1 + MAX_CHAIN_CERTIFICATES:
            raise ProxyHeaderError("too_large", "Too many certificates were forwarded.")
        leaf, *chain = (load_certificate(b64decode_strict(part)) for part in parts)
        return forwarded_certificate(leaf, chain=chain)

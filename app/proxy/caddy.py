"""Caddy: the ``{http.request.tls.client.certificate_der_base64}`` placeholder.

Reference configuration (Caddyfile, inside ``reverse_proxy``)::

    header_up X-SSL-Client-Cert-DER {http.request.tls.client.certificate_der_base64}

``header_up`` replaces any value the client sent. When the client presented no certificate
the placeholder has no value, and ``header_up`` (which only replaces *known* placeholders)
forwards it literally (measured with Caddy 2.6.2): the header then reads
``{http.request.tls.client.certificate_der_base64}``. That literal, like an empty value, means
"no certificate". The ``http.request.tls.client.*`` placeholders are listed with the
http app (https://caddyserver.com/docs/modules/http). Only the ``verify_if_given`` and
``require_and_verify`` client-auth modes verify the certificate
(https://caddyserver.com/docs/caddyfile/directives/tls#client_auth), and Caddy forwards no
verdict, so ``proxy_verify`` is always None.
"""

from __future__ import annotations

from app.proxy.adapter import HeaderAdapter, forwarded_certificate
from app.proxy.base import ForwardedCertificate
from app.proxy.decoding import b64decode_strict
from app.proxy.der import load_certificate
from app.proxy.headers import ReceivedHeaders

PLACEHOLDER = "{http.request.tls.client.certificate_der_base64}"


class CaddyAdapter(HeaderAdapter):
    """``X-SSL-Client-Cert-DER``: base64 DER, or the unexpanded placeholder for none."""

    format_name = "caddy"
    default_certificate_header = "x-ssl-client-cert-der"
    certificate_headers = ("x-ssl-client-cert-der",)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        value = received.single_value(self.certificate_header)
        if value is None or value == PLACEHOLDER:
            return None
        return forwarded_certificate(load_certificate(b64decode_strict(value)))

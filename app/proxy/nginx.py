"""nginx (``ngx_http_ssl_module``): URL-encoded PEM plus nginx's verdict.

Reference configuration::

    proxy_set_header X-SSL-Client-Cert   $ssl_client_escaped_cert;
    proxy_set_header X-SSL-Client-Verify $ssl_client_verify;

- ``$ssl_client_escaped_cert`` (nginx >= 1.13.5) is the client certificate in PEM, URL-encoded;
  the older ``$ssl_client_cert`` is deprecated and not supported.
  https://nginx.org/en/docs/http/ngx_http_ssl_module.html#var_ssl_client_escaped_cert
- ``$ssl_client_verify`` is ``SUCCESS``, ``FAILED:reason`` or ``NONE``.
  https://nginx.org/en/docs/http/ngx_http_ssl_module.html#var_ssl_client_verify
- ``proxy_set_header`` drops a header whose value is empty, so "no certificate" arrives as a
  missing certificate header (measured with nginx 1.22: ``NONE`` and no certificate header;
  a self-signed certificate under ``optional_no_ca`` arrives with
  ``FAILED:self-signed certificate``).

No chain is forwarded. ``$ssl_client_fingerprint`` is SHA-1 and is never read.
"""

from __future__ import annotations

import re

from app.proxy.adapter import (
    SINGLE_VALUE_LIMIT,
    HeaderAdapter,
    forwarded_certificate,
    read_verdict,
)
from app.proxy.base import ForwardedCertificate
from app.proxy.decoding import percent_decode
from app.proxy.headers import ReceivedHeaders
from app.proxy.pem import certificate_from_pem

VERIFY_HEADER = "x-ssl-client-verify"
_VERDICT = re.compile(r"SUCCESS|NONE|FAILED:[ -~]*")


class NginxAdapter(HeaderAdapter):
    """``X-SSL-Client-Cert: $ssl_client_escaped_cert`` and ``X-SSL-Client-Verify``."""

    format_name = "nginx"
    default_certificate_header = "x-ssl-client-cert"
    companion_headers = {VERIFY_HEADER: SINGLE_VALUE_LIMIT}
    certificate_headers = ("x-ssl-client-cert",)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        verdict = read_verdict(received, VERIFY_HEADER, _VERDICT)
        value = received.single_value(self.certificate_header)
        # Threat model A.5: "NONE" means the handshake carried no certificate, so a certificate
        # in the header did not come from it; "SUCCESS" without one is no certificate either.
        if value is None or verdict == "NONE":
            return None
        # "FAILED:..." passes: under optional_no_ca a pinned self-signed certificate is reported
        # as "FAILED:self-signed certificate", and the application re-validates every
        # certificate itself.
        leaf = certificate_from_pem(percent_decode(value))
        return forwarded_certificate(leaf, proxy_verify=verdict)

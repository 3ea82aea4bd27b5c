"""Apache httpd (``mod_ssl`` + ``mod_headers``): PEM with newlines turned into spaces.

Reference configuration::

    SSLOptions +ExportCertData
    RequestHeader unset X-SSL-Client-Cert
    RequestHeader unset X-SSL-Client-Verify
    RequestHeader set X-SSL-Client-Cert   "%{SSL_CLIENT_CERT}s"
    RequestHeader set X-SSL-Client-Verify "%{SSL_CLIENT_VERIFY}s"

- ``SSL_CLIENT_CERT`` is the PEM certificate (only with ``+ExportCertData``) and
  ``SSL_CLIENT_VERIFY`` is ``NONE``, ``SUCCESS``, ``GENEROUS`` or ``FAILED:reason``.
  https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#envvars
- ``%{VAR}s`` in ``RequestHeader`` turns the PEM's newlines into spaces and renders an unset
  variable as the literal ``(null)`` (both measured with Apache 2.4.71, which also passes a
  client's ``X_SSL_Client_Cert`` underscore spelling through untouched).
  https://httpd.apache.org/docs/2.4/mod/mod_headers.html#requestheader
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
from app.proxy.headers import ReceivedHeaders
from app.proxy.pem import certificate_from_pem

VERIFY_HEADER = "x-ssl-client-verify"
#: What mod_headers writes for an unset variable.
NO_CERTIFICATE = "(null)"
_VERDICT = re.compile(r"SUCCESS|NONE|GENEROUS|FAILED(?::[ -~]*)?")


class ApacheAdapter(HeaderAdapter):
    """``X-SSL-Client-Cert: %{SSL_CLIENT_CERT}s`` and ``X-SSL-Client-Verify``."""

    format_name = "apache"
    default_certificate_header = "x-ssl-client-cert"
    companion_headers = {VERIFY_HEADER: SINGLE_VALUE_LIMIT}
    certificate_headers = ("x-ssl-client-cert",)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        verdict = read_verdict(received, VERIFY_HEADER, _VERDICT)
        value = received.single_value(self.certificate_header)
        # Threat model A.5: a certificate with "NONE" did not come from the handshake.
        if value is None or value == NO_CERTIFICATE or verdict == "NONE":
            return None
        # The PEM reader ignores whitespace inside the body, which restores the newlines that
        # mod_headers replaced; the BEGIN and END lines themselves are intact.
        return forwarded_certificate(certificate_from_pem(value), proxy_verify=verdict)

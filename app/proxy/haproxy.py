"""HAProxy: base64 DER of the leaf, its chain, and the ``ssl_c_used``/``ssl_c_verify`` pair.

Reference configuration::

    http-request set-header X-SSL-Client-Used      %[ssl_c_used]
    http-request set-header X-SSL-Client-DER       %[ssl_c_der,base64]
    http-request set-header X-SSL-Client-Chain-DER %[ssl_c_chain_der,base64]
    http-request set-header X-SSL-Client-Verify    %[ssl_c_verify]

``set-header`` replaces a value the client sent; other formats' certificate headers must be
removed with ``del-header``, since this adapter refuses them as foreign.

HAProxy configuration manual, section 7.3.4 (layer 5 sample fetches),
https://docs.haproxy.org/2.8/configuration.html#7.3.4 :

- ``ssl_c_der``: the DER certificate the client presented.
- ``ssl_c_chain_der``: the DER certificates of ``SSL_get_peer_cert_chain``, concatenated;
  on the server side OpenSSL leaves the leaf out of that stack (measured with HAProxy 2.6:
  a client sending leaf + CA forwards only the CA here).
- ``ssl_c_used``: 1 when the client presented a certificate.
- ``ssl_c_verify``: the OpenSSL verify error code; 0 on success *and* when no certificate was
  sent, which is why it is only informational and ``ssl_c_used`` decides.
"""

from __future__ import annotations

import re

from app.proxy.adapter import (
    CHAIN_VALUE_LIMIT,
    SINGLE_VALUE_LIMIT,
    HeaderAdapter,
    forwarded_certificate,
    read_verdict,
)
from app.proxy.base import ForwardedCertificate
from app.proxy.decoding import b64decode_strict
from app.proxy.der import MAX_CHAIN_CERTIFICATES, load_certificate, load_certificates
from app.proxy.headers import ReceivedHeaders

USED_HEADER = "x-ssl-client-used"
CHAIN_HEADER = "x-ssl-client-chain-der"
VERIFY_HEADER = "x-ssl-client-verify"
_USED = re.compile(r"[01]")
_VERIFY_CODE = re.compile(r"[0-9]{1,10}")


class HAProxyAdapter(HeaderAdapter):
    """``X-SSL-Client-DER``, ``X-SSL-Client-Chain-DER``, ``-Used`` and ``-Verify``."""

    format_name = "haproxy"
    default_certificate_header = "x-ssl-client-der"
    companion_headers = {
        USED_HEADER: SINGLE_VALUE_LIMIT,
        CHAIN_HEADER: CHAIN_VALUE_LIMIT,
        VERIFY_HEADER: SINGLE_VALUE_LIMIT,
    }
    certificate_headers = ("x-ssl-client-der", CHAIN_HEADER)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        used = read_verdict(received, USED_HEADER, _USED)
        verdict = read_verdict(received, VERIFY_HEADER, _VERIFY_CODE)
        value = received.single_value(self.certificate_header)
        chain_value = received.single_value(CHAIN_HEADER)
        # Threat model A.5: HAProxy says no certificate was used, whatever the headers carry.
        if value is None or used == "0":
            return None
        leaf = load_certificate(b64decode_strict(value))
        chain = (
            load_certificates(b64decode_strict(chain_value), max_count=MAX_CHAIN_CERTIFICATES)
            if chain_value is not None
            else []
        )
        return forwarded_certificate(leaf, chain=chain, proxy_verify=verdict)

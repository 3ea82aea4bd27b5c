"""Envoy: the ``x-forwarded-client-cert`` (XFCC) header.

https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
and ``forward_client_cert_details`` / ``set_current_client_cert_details`` of the
HttpConnectionManager. Reference configuration::

    forward_client_cert_details: SANITIZE_SET
    set_current_client_cert_details: { cert: true, chain: true }

Fields read from the element: ``Cert`` (the leaf, URL-encoded PEM), ``Chain`` (URL-encoded
PEM of the whole chain, leaf included) and ``Hash`` (SHA-256 hex of the leaf's DER). By
default Envoy sends ``Hash`` but not ``Cert``; that is refused as ``cert_not_forwarded``.

With ``APPEND_FORWARD`` every hop appends its element, so only the *last* element was written
by the proxy next to us; the earlier ones come from whoever sent the request. Envoy removes
the header on connections without a client certificate (only ``ALWAYS_FORWARD_ONLY`` keeps it),
so a last element never speaks for a certificate-less connection. ``SANITIZE_SET`` at the edge
is still the configuration to use.
"""

from __future__ import annotations

import hashlib
import re

from app.proxy.adapter import HeaderAdapter, forwarded_certificate
from app.proxy.base import ForwardedCertificate, ProxyHeaderError
from app.proxy.decoding import percent_decode
from app.proxy.der import MAX_CHAIN_CERTIFICATES
from app.proxy.headers import ReceivedHeaders
from app.proxy.pem import certificate_from_pem, certificates_from_pem
from app.proxy.xfcc import parse_xfcc

_SHA256_HEX = re.compile(r"[0-9A-Fa-f]{64}")


class EnvoyAdapter(HeaderAdapter):
    """``X-Forwarded-Client-Cert``: the ``Cert``, ``Chain`` and ``Hash`` of the last element."""

    format_name = "envoy"
    default_certificate_header = "x-forwarded-client-cert"
    certificate_header_carries_chain = True
    certificate_headers = ("x-forwarded-client-cert",)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        value = received.value(self.certificate_header)
        if value is None:
            return None
        current = parse_xfcc(value)[-1]
        cert_field = current.unique("cert")
        if not cert_field:
            raise ProxyHeaderError("cert_not_forwarded", header=self.certificate_header)
        leaf = certificate_from_pem(percent_decode(cert_field))
        forwarded = forwarded_certificate(leaf)

        hash_field = current.unique("hash")
        if hash_field is not None:
            if not _SHA256_HEX.fullmatch(hash_field):
                raise ProxyHeaderError("malformed", "The XFCC Hash field is not SHA-256 hex.")
            if hash_field.lower() != hashlib.sha256(forwarded.leaf_der).hexdigest():
                raise ProxyHeaderError("hash_mismatch", header=self.certificate_header)

        chain_field = current.unique("chain")
        if not chain_field:
            return forwarded
        chain = certificates_from_pem(
            percent_decode(chain_field), max_count=1 + MAX_CHAIN_CERTIFICATES
        )
        if chain[0] != leaf:
            raise ProxyHeaderError("malformed", "The XFCC Chain does not start with its Cert.")
        return forwarded_certificate(leaf, chain=chain)

"""AWS Application Load Balancer mutual TLS, verify mode.

In verify mode the ALB validates the client certificate against its trust store and sends
``X-Amzn-Mtls-Clientcert-Leaf``: the leaf in URL-encoded PEM, "with +, = and / as safe
characters" (left unescaped). It also sends ``-Serial-Number``, ``-Issuer``, ``-Subject`` and
``-Validity``, which are not read: identity comes from the certificate alone.
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/mutual-authentication.html

Passthrough mode sends the whole, unverified chain in ``X-Amzn-Mtls-Clientcert``. It is not
supported: that header is a known certificate header this adapter refuses as foreign. With
``ignoreClientCertificateExpiry`` the ALB forwards expired certificates, so the application
re-checks validity dates like every other source.
"""

from __future__ import annotations

from app.proxy.adapter import HeaderAdapter, forwarded_certificate
from app.proxy.base import ForwardedCertificate
from app.proxy.decoding import percent_decode
from app.proxy.headers import ReceivedHeaders
from app.proxy.pem import certificate_from_pem

LEAF_HEADER = "x-amzn-mtls-clientcert-leaf"
PASSTHROUGH_HEADER = "x-amzn-mtls-clientcert"


class AwsAlbAdapter(HeaderAdapter):
    """``X-Amzn-Mtls-Clientcert-Leaf``: URL-encoded PEM with ``+`` left unescaped."""

    format_name = "aws-alb"
    default_certificate_header = LEAF_HEADER
    certificate_headers = (LEAF_HEADER, PASSTHROUGH_HEADER)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        value = received.single_value(self.certificate_header)
        if value is None:
            return None
        # A literal "+" is base64, never an encoded space: keep it through the decoding.
        pem = percent_decode(value.replace("+", "%2B"))
        return forwarded_certificate(certificate_from_pem(pem))

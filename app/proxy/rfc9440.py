"""RFC 9440: the ``Client-Cert`` and ``Client-Cert-Chain`` HTTP fields.

- ``Client-Cert`` (RFC 9440 §2.2) is an RFC 8941 Item whose value is a Byte Sequence: the
  DER certificate in base64 between colons, e.g. ``Client-Cert: :MIIB...:``. It is a
  singleton field: never a list, never repeated.
- ``Client-Cert-Chain`` (§2.3) is a List of such Byte Sequences in TLS order, the
  certificates that followed the leaf; it never contains the leaf, MAY be split over several
  field lines, and MUST NOT appear without ``Client-Cert`` (alone it is "no certificate").

The fields carry no verdict, so ``proxy_verify`` is None. The proxy must remove both fields
from what clients send (RFC 9440 §2.4).
"""

from __future__ import annotations

from app.proxy.adapter import CHAIN_VALUE_LIMIT, HeaderAdapter, forwarded_certificate
from app.proxy.base import ForwardedCertificate
from app.proxy.der import MAX_CHAIN_CERTIFICATES, load_certificate
from app.proxy.headers import ReceivedHeaders
from app.proxy.structured_fields import parse_byte_sequence_item, parse_byte_sequence_list

CHAIN_HEADER = "client-cert-chain"


class Rfc9440Adapter(HeaderAdapter):
    """``Client-Cert: :<base64 DER>:`` and ``Client-Cert-Chain``."""

    format_name = "rfc9440"
    default_certificate_header = "client-cert"
    companion_headers = {CHAIN_HEADER: CHAIN_VALUE_LIMIT}
    repeatable_headers = frozenset({CHAIN_HEADER})
    certificate_headers = ("client-cert", CHAIN_HEADER)

    def _extract(self, received: ReceivedHeaders) -> ForwardedCertificate | None:
        value = received.value(self.certificate_header)
        chain_value = received.value(CHAIN_HEADER)
        if value is None:
            return None
        leaf = load_certificate(parse_byte_sequence_item(value))
        members = (
            parse_byte_sequence_list(chain_value, max_members=MAX_CHAIN_CERTIFICATES)
            if chain_value is not None
            else []
        )
        chain = [load_certificate(member) for member in members]
        return forwarded_certificate(leaf, chain=chain)

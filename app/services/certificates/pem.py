"""Strict PEM framing (RFC 7468): `pem_blocks` splits text into ``(label, DER)`` pairs and
refuses anything outside the blocks. Certificates, CA bundles, CSRs and CRLs are all read through
it.
"""

from __future__ import annotations

import base64
import binascii
import re

from app.services.certificates.errors import _malformed

__all__ = ["pem_blocks"]

_BEGIN = b"-----BEGIN "
_DASHES = b"-----"
_LABEL = re.compile(rb"[A-Z0-9 ]{1,64}")
_CERTIFICATE_LABEL = "CERTIFICATE"


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """Split strict PEM (RFC 7468 §2-§3) into ``(label, DER)`` pairs, in order.

    Only whitespace may surround the blocks, and whitespace inside a block is ignored (so the
    one-line and space-separated forms some proxies send also parse). The scan is linear in the
    input size: every marker search starts where the previous one stopped.

    Raises:
        CertificateError: ``malformed`` for text outside blocks, bad markers or bad base64.
    """
    blocks: list[tuple[str, bytes]] = []
    position = 0
    while True:
        while position < len(data) and data[position : position + 1].isspace():
            position += 1
        if position == len(data):
            return blocks
        if not data.startswith(_BEGIN, position):
            raise _malformed("There is text outside the PEM block.")
        label_start = position + len(_BEGIN)
        label_end = data.find(_DASHES, label_start, label_start + 65)
        if label_end < 0 or not _LABEL.fullmatch(data, label_start, label_end):
            raise _malformed("The PEM header is not valid.")
        label = data[label_start:label_end]
        end_marker = b"-----END " + label + _DASHES
        body_start = label_end + len(_DASHES)
        body_end = data.find(end_marker, body_start)
        if body_end < 0:
            raise _malformed("The PEM block has no matching END line.")
        try:
            der = base64.b64decode(b"".join(data[body_start:body_end].split()), validate=True)
        except (binascii.Error, ValueError):
            raise _malformed("The PEM block is not valid base64.") from None
        blocks.append((label.decode("ascii"), der))
        position = body_end + len(end_marker)

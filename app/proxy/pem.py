"""PEM certificates (RFC 7468), parsed strictly and in linear time.

Strict means: the text is nothing but PEM blocks and whitespace (no explanatory text, which
RFC 7468 §5.2 lets lax parsers skip), every block is labelled ``CERTIFICATE`` (§5.1), and the
base64 body is valid. Whitespace inside the body is ignored, which also reads Apache's form
where every newline became a space.
"""

from __future__ import annotations

import re

from cryptography import x509

from app.proxy.base import ProxyHeaderError
from app.proxy.decoding import b64decode_strict
from app.proxy.der import MAX_CHAIN_CERTIFICATES, load_certificate

_BEGIN = "-----BEGIN "
_END = "-----END "
_DASHES = "-----"
_MAX_LABEL = 64
#: RFC 7468 §3: label = [ labelchar *( ["-" / SP] labelchar ) ], labelchar = %x21-2C / %x2E-7E.
_LABEL = re.compile(r"[!-,.-~]+(?:[- ][!-,.-~]+)*")
_BODY_WHITESPACE = str.maketrans("", "", " \t\r\n")


def read_pem_blocks(text: str, *, max_blocks: int) -> list[tuple[str, str]]:
    """Split PEM text into ``(label, body)`` pairs, refusing anything outside the blocks.

    Raises:
        ProxyHeaderError: ``malformed``, ``trailing_data`` or ``too_large``.
    """
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        begin = text.find(_BEGIN, pos)
        if begin == -1:
            if text[pos:].strip():
                if blocks:
                    raise ProxyHeaderError("trailing_data")
                raise ProxyHeaderError("malformed", "No PEM certificate was found in the header.")
            return blocks
        if text[pos:begin].strip():
            raise ProxyHeaderError("malformed", "The header has text outside the PEM blocks.")
        if len(blocks) == max_blocks:
            raise ProxyHeaderError("too_large", "Too many certificates were forwarded.")
        label_start = begin + len(_BEGIN)
        label_end = text.find(_DASHES, label_start, label_start + _MAX_LABEL + len(_DASHES))
        label = text[label_start:label_end] if label_end != -1 else ""
        if not _LABEL.fullmatch(label):
            raise ProxyHeaderError("malformed", "A PEM block has an invalid label.")
        body_start = label_end + len(_DASHES)
        end_line = f"{_END}{label}{_DASHES}"
        end = text.find(_END, body_start)
        if end == -1 or not text.startswith(end_line, end):
            raise ProxyHeaderError("malformed", "A PEM block is not terminated.")
        blocks.append((label, text[body_start:end]))
        pos = end + len(end_line)


def _certificate_bodies(text: str, *, max_blocks: int) -> list[str]:
    blocks = read_pem_blocks(text, max_blocks=max_blocks)
    if not blocks:
        raise ProxyHeaderError("malformed", "No PEM certificate was found in the header.")
    # Checked on every label before any body is decoded, so a private key is never decoded.
    if any(label != "CERTIFICATE" for label, _ in blocks):
        raise ProxyHeaderError("not_a_certificate")
    return [body for _, body in blocks]


def _body_to_certificate(body: str) -> x509.Certificate:
    return load_certificate(b64decode_strict(body.translate(_BODY_WHITESPACE)))


def certificate_from_pem(text: str) -> x509.Certificate:
    """Exactly one PEM ``CERTIFICATE``.

    Raises:
        ProxyHeaderError: ``chain_as_leaf`` for several, ``not_a_certificate`` for a CSR or a
            key, and the codes of ``read_pem_blocks`` and ``der.load_certificate``.
    """
    bodies = _certificate_bodies(text, max_blocks=MAX_CHAIN_CERTIFICATES + 1)
    if len(bodies) > 1:
        raise ProxyHeaderError("chain_as_leaf")
    return _body_to_certificate(bodies[0])


def certificates_from_pem(text: str, *, max_count: int) -> list[x509.Certificate]:
    """One or more PEM ``CERTIFICATE`` blocks, at most ``max_count``."""
    return [_body_to_certificate(body) for body in _certificate_bodies(text, max_blocks=max_count)]

"""How far a verified attestation can be trusted (§7.1 step 24), as the ``AttestationTrust``
stored with the credential: ``verified`` for the vendor roots py_webauthn pins or the roots the
caller passes, ``self``, ``basic-unverified`` or ``none`` otherwise; and the ``packed``
certificate requirements of §8.2.1 that py_webauthn leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from cryptography import x509
from webauthn.helpers import parse_attestation_object
from webauthn.helpers.structs import AttestationFormat

from app.services.webauthn.errors import WebAuthnError

#: How far the attestation was checked, stored with the credential:
#: ``none`` (no attestation), ``self`` (signed by the credential key itself),
#: ``basic-unverified`` (a certificate chain nobody vouched for: the AAGUID and model name are
#: only *reported by the authenticator*), ``verified`` (chain checked against trust roots).
AttestationTrust = Literal["none", "self", "basic-unverified", "verified"]

#: Formats whose chains py_webauthn always checks against the vendor roots it pins.
_VENDOR_ROOTED = {
    AttestationFormat.APPLE,
    AttestationFormat.ANDROID_KEY,
    AttestationFormat.ANDROID_SAFETYNET,
}
#: id-fido-gen-ce-aaguid (§8.2.1)
_AAGUID_EXTENSION = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def _attestation_trust(
    attestation_object: bytes,
    aaguid: str,
    roots: Mapping[AttestationFormat, list[bytes]] | None,
) -> AttestationTrust:
    statement = parse_attestation_object(attestation_object)
    fmt = AttestationFormat(statement.fmt)
    x5c = statement.att_stmt.x5c if statement.att_stmt else None
    if fmt == AttestationFormat.NONE:
        return "none"
    if fmt in _VENDOR_ROOTED:
        return "verified"
    if fmt == AttestationFormat.PACKED:
        if not x5c:
            # §8.2.1: no x5c means self attestation, signed by the credential key.
            return "self"
        _check_packed_certificate(x5c[0], aaguid)
    if roots and roots.get(fmt):
        # py_webauthn validated x5c up to one of these roots (§7.1 step 24).
        return "verified"
    return "basic-unverified"


def _check_packed_certificate(der: bytes, aaguid: str) -> None:
    """§8.2.1 certificate requirements py_webauthn leaves out."""
    cert = x509.load_der_x509_certificate(der)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise WebAuthnError("bad_attestation", "packed attestation certificate is a CA")
    try:
        extension = cert.extensions.get_extension_for_oid(_AAGUID_EXTENSION).value
    except x509.ExtensionNotFound:
        return
    # The extension holds an OCTET STRING with the 16-byte AAGUID: it must name the same
    # model as the authenticator data, or one model's certificate could vouch for another.
    expected = b"\x04\x10" + bytes.fromhex(aaguid.replace("-", ""))
    if not isinstance(extension, x509.UnrecognizedExtension) or extension.value != expected:
        raise WebAuthnError("bad_attestation", "certificate AAGUID differs from authenticator data")

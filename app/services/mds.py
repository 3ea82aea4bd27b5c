"""FIDO Metadata Service (MDS3) blobs: verified offline, then asked about authenticator models.

An operator may download the MDS3 blob (https://mds3.fidoalliance.org/) and point
``KEYSTILE_MDS_BLOB`` at it, with ``KEYSTILE_MDS_ROOT`` naming the root certificate it must
chain to (FIDO publishes GlobalSign Root CA - R3 for the production service). Keystile never
fetches anything: the file is read at start-up and its signature checked here.

The blob is a JWS in compact serialisation (FIDO Metadata Service v3.0 §3.1.7 "Metadata BLOB
object processing rules"): the header's ``x5c`` carries the signing certificate and its
intermediates, which must chain to the configured root (step 4); the signature must verify
with the leaf's key (step 5, ES256 or RS256 here); the payload's ``entries`` describe each
model by AAGUID. CRL checks of the chain (also step 4) are left out: they need the network.

What Keystile takes from an entry (FIDO Metadata Statement v3.0):

* ``metadataStatement.attestationRootCertificates``: the roots an attestation from that model
  must chain to, so its registrations can be "verified" (WebAuthn L3 §7.1 step 23-24);
* ``metadataStatement.description``: the model's name;
* ``statusReports``: a model marked ``REVOKED``, ``*_COMPROMISE`` or
  ``USER_VERIFICATION_BYPASS`` (FIDO MDS v3.0 §3.1.4 AuthenticatorStatus) is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.services.aaguids import normalize_aaguid

__all__ = [
    "COMPROMISED_STATUSES",
    "MetadataBlob",
    "MetadataEntry",
    "MetadataError",
    "load",
    "load_files",
]

#: AuthenticatorStatus values that make a model unacceptable (FIDO MDS v3.0 §3.1.4).
COMPROMISED_STATUSES = frozenset(
    {
        "REVOKED",
        "USER_VERIFICATION_BYPASS",
        "ATTESTATION_KEY_COMPROMISE",
        "USER_KEY_REMOTE_COMPROMISE",
        "USER_KEY_PHYSICAL_COMPROMISE",
    }
)
#: The real blob is a few MiB; anything far larger is not one.
MAX_BLOB_BYTES = 64 * 1024 * 1024


class MetadataError(ValueError):
    """The blob is malformed, or its signature or certificate chain does not verify."""


@dataclass(frozen=True)
class MetadataEntry:
    """What the blob says about one authenticator model."""

    aaguid: str
    description: str | None
    #: PEM attestation root certificates, as py_webauthn takes them
    attestation_roots: tuple[bytes, ...]
    #: every ``statusReports[].status``, oldest first as in the blob
    statuses: tuple[str, ...]

    @property
    def compromised(self) -> bool:
        return any(status in COMPROMISED_STATUSES for status in self.statuses)


@dataclass(frozen=True)
class MetadataBlob:
    """A verified MDS3 blob, indexed by AAGUID."""

    #: the blob's serial number (``no``) and when FIDO plans the next one
    number: int
    next_update: str
    entries: Mapping[str, MetadataEntry]

    @property
    def attestation_roots_by_aaguid(self) -> Mapping[str, list[bytes]]:
        return MappingProxyType(
            {k: list(e.attestation_roots) for k, e in self.entries.items() if e.attestation_roots}
        )

    def _entry(self, aaguid: str | None) -> MetadataEntry | None:
        value = normalize_aaguid(aaguid) if aaguid else None
        return self.entries.get(value) if value else None

    def attestation_roots(self, aaguid: str | None) -> list[bytes]:
        entry = self._entry(aaguid)
        return list(entry.attestation_roots) if entry else []

    def is_compromised(self, aaguid: str | None) -> bool:
        entry = self._entry(aaguid)
        return entry is not None and entry.compromised

    def description(self, aaguid: str | None) -> str | None:
        entry = self._entry(aaguid)
        return entry.description if entry else None


def load_files(blob_path: str, root_path: str, *, now: datetime | None = None) -> MetadataBlob:
    """Read and verify the blob file against the PEM root file (both set by the operator)."""
    blob = Path(blob_path)
    if blob.stat().st_size > MAX_BLOB_BYTES:
        raise MetadataError(f"{blob_path} is larger than {MAX_BLOB_BYTES} bytes")
    return load(blob.read_bytes(), root_pem=Path(root_path).read_bytes(), now=now)


def load(token: bytes | str, *, root_pem: bytes, now: datetime | None = None) -> MetadataBlob:
    """Verify an MDS3 blob (a compact JWS) and index its entries.

    Args:
        token: the blob as downloaded.
        root_pem: the root certificate the blob's ``x5c`` must chain to.
        now: when to check certificate validity (default: the current time).

    Raises:
        MetadataError: malformed, unsupported algorithm, broken chain, bad signature.
    """
    text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
    parts = text.strip().split(".")
    if len(parts) != 3:
        raise MetadataError("the blob is not a compact JWS (header.payload.signature)")
    header = _json_object(_b64url(parts[0], "header"), "header")
    payload = _b64url(parts[1], "payload")
    signature = _b64url(parts[2], "signature")
    try:
        root = x509.load_pem_x509_certificate(root_pem)
    except ValueError as exc:
        raise MetadataError("the configured MDS root is not a PEM certificate") from exc
    chain = _x5c(header)
    _verify_chain(chain, root, now or datetime.now(UTC))
    _verify_signature(header.get("alg"), chain[0], f"{parts[0]}.{parts[1]}".encode(), signature)
    return _index(_json_object(payload, "payload"))


# -- JWS ----------------------------------------------------------------------------------


def _b64url(value: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MetadataError(f"the blob's {what} is not base64url") from exc


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise MetadataError(f"the blob's {what} is not JSON") from exc
    if not isinstance(data, dict):
        raise MetadataError(f"the blob's {what} is not a JSON object")
    return data


def _der_list(values: object, what: str) -> list[bytes]:
    """RFC 7515 §4.1.6 / FIDO metadata: standard (not url-safe) base64 DER certificates."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise MetadataError(f"{what} is not a list of base64 certificates")
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except (binascii.Error, ValueError) as exc:
        raise MetadataError(f"{what} holds a certificate that is not base64") from exc


def _x5c(header: dict[str, Any]) -> list[x509.Certificate]:
    ders = _der_list(header.get("x5c"), "the header's x5c")
    if not ders:
        raise MetadataError("the header's x5c is empty")
    try:
        return [x509.load_der_x509_certificate(d) for d in ders]
    except ValueError as exc:
        raise MetadataError("the header's x5c holds an unreadable certificate") from exc


def _verify_chain(chain: Sequence[x509.Certificate], root: x509.Certificate, now: datetime) -> None:
    """Each certificate is issued by the next; the last by the root (MDS v3.0 §3.1.7 step 4)."""
    if len(chain) > 1 and chain[-1] == root:  # a blob may carry the root itself at the end
        chain = chain[:-1]
    issuers = [*chain[1:], root]
    for position, (cert, issuer) in enumerate(zip(chain, issuers, strict=True)):
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise MetadataError(
                f"x5c[{position}] ({cert.subject.rfc4514_string()}) is expired or not yet valid"
            )
        if issuer is not root and not _is_ca(issuer):
            raise MetadataError(f"{issuer.subject.rfc4514_string()} may not issue certificates")
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            raise MetadataError(
                f"x5c[{position}] is not issued by {issuer.subject.rfc4514_string()}"
            ) from exc
    if not root.not_valid_before_utc <= now <= root.not_valid_after_utc:
        raise MetadataError("the configured MDS root is expired")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _verify_signature(alg: object, leaf: x509.Certificate, signed: bytes, signature: bytes) -> None:
    """RFC 7518 §3.3 (RS256) and §3.4 (ES256, the signature being R || S)."""
    key = leaf.public_key()
    try:
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1) or len(signature) != 64:
                raise MetadataError("ES256 needs a P-256 key and a 64-byte signature")
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        else:
            raise MetadataError(f"unsupported JWS algorithm {alg!r} for this certificate key")
    except InvalidSignature as exc:
        raise MetadataError("the blob's signature does not verify") from exc


# -- entries ------------------------------------------------------------------------------


def _index(payload: dict[str, Any]) -> MetadataBlob:
    entries = payload.get("entries")
    if not isinstance(entries, list):
        raise MetadataError("the payload has no entries list")
    by_aaguid: dict[str, MetadataEntry] = {}
    for raw in entries:
        entry = _entry(raw)
        if entry is not None:
            by_aaguid[entry.aaguid] = entry
    number = payload.get("no")
    return MetadataBlob(
        number=number if isinstance(number, int) else 0,
        next_update=str(payload.get("nextUpdate", "")),
        entries=MappingProxyType(by_aaguid),
    )


def _entry(raw: object) -> MetadataEntry | None:
    """One FIDO2 entry; U2F entries (keyed by certificate key identifiers) are skipped."""
    if not isinstance(raw, dict) or not isinstance(raw.get("aaguid"), str):
        return None
    aaguid = normalize_aaguid(raw["aaguid"])
    if aaguid is None:
        return None
    statement = raw.get("metadataStatement")
    statement = statement if isinstance(statement, dict) else {}
    description = statement.get("description")
    roots = _der_list(
        statement.get("attestationRootCertificates", []), f"attestationRootCertificates of {aaguid}"
    )
    reports = raw.get("statusReports")
    statuses = tuple(
        str(r["status"])
        for r in (reports if isinstance(reports, list) else [])
        if isinstance(r, dict) and isinstance(r.get("status"), str)
    )
    return MetadataEntry(
        aaguid=aaguid,
        description=description[:200] if isinstance(description, str) else None,
        attestation_roots=tuple(_pem(der) for der in roots),
        statuses=statuses,
    )


def _pem(der: bytes) -> bytes:
    try:
        return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    except ValueError as exc:
        raise MetadataError("an attestation root certificate is unreadable") from exc

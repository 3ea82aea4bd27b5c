"""A software WebAuthn authenticator that answers like a browser's ``toJSON()``.

Produces real registration responses (attestation ``none``, ``packed`` self attestation, and
``packed`` with an x5c chain from a test attestation CA) and assertion responses, with a knob
for every field a test wants to get wrong: origin, RP ID, ceremony type, UP/UV/BE/BS flags,
sign count, user handle, AAGUID, cross-origin client data, signing with another key.

Fast enough for benchmarks: keys are generated only when registering; an assertion is one
signature, one hash and a few small encodings.

    auth = SoftAuthenticator(origin="https://example.org", rp_id="example.org")
    response, credential = auth.register(challenge=challenge, user_handle=b"...")
    assertion = auth.authenticate(credential, challenge=other_challenge)
    json.dumps(response)  # the request body the browser would POST
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

ES256 = -7
EDDSA = -8
RS256 = -257

ZERO_AAGUID = bytes(16)
#: Chromium's virtual authenticator (CDP WebAuthn.addVirtualAuthenticator) uses this AAGUID.
CHROMIUM_VIRTUAL_AAGUID = bytes.fromhex("01020304050607080102030405060708")

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40
FLAG_ED = 0x80

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
Attestation = Literal["none", "packed-self", "packed"]


class _Default:
    """Marks "use the credential's own value" where None has a meaning of its own."""


DEFAULT: Any = _Default()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@cache
def _rp_id_hash(rp_id: str) -> bytes:
    return hashlib.sha256(rp_id.encode()).digest()


def _aaguid_bytes(aaguid: bytes | str) -> bytes:
    return aaguid if isinstance(aaguid, bytes) else uuid.UUID(aaguid).bytes


def generate_key(alg: int) -> PrivateKey:
    if alg == ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if alg == RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported alg {alg}")


def sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def cose_public_key(key: PrivateKey, alg: int) -> bytes:
    """COSE_Key encoding of the public key (RFC 9053, WebAuthn §6.5.1.1)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        numbers = key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: alg,
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return cbor2.dumps({1: 1, 3: alg, -1: 6, -2: raw})  # kty OKP, crv Ed25519
    rsa_numbers = key.public_key().public_numbers()
    n = rsa_numbers.n.to_bytes((rsa_numbers.n.bit_length() + 7) // 8, "big")
    e = rsa_numbers.e.to_bytes((rsa_numbers.e.bit_length() + 7) // 8, "big")
    return cbor2.dumps({1: 3, 3: alg, -1: n, -2: e})  # kty RSA


@dataclass
class SoftCredential:
    """One credential held by the soft authenticator (the private half stays here)."""

    credential_id: bytes
    private_key: PrivateKey
    alg: int
    rp_id: str
    user_handle: bytes
    sign_count: int = 0
    backup_eligible: bool = False
    backup_state: bool = False
    cose_key: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.cose_key:
            self.cose_key = cose_public_key(self.private_key, self.alg)

    @property
    def id_b64url(self) -> str:
        return b64url(self.credential_id)


@dataclass(frozen=True)
class AttestationCA:
    """A test attestation PKI: root -> intermediate -> attestation certificate."""

    root_pem: bytes
    x5c: tuple[bytes, ...]  # DER, attestation certificate first
    key: ec.EllipticCurvePrivateKey


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Keystile Tests"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    aaguid: bytes | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if aaguid is not None:
        # id-fido-gen-ce-aaguid: an OCTET STRING holding the AAGUID (WebAuthn §8.2.1)
        builder = builder.add_extension(
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + aaguid
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@cache
def attestation_ca(
    aaguid: bytes = ZERO_AAGUID,
    name: str = "Keystile Test",
    certificate_aaguid: bytes | None = None,
) -> AttestationCA:
    """A cached test attestation CA whose leaf certifies ``certificate_aaguid`` (default:
    ``aaguid``; pass a different one to build a mismatching certificate)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    mid_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(f"{name} Root", root_key, f"{name} Root", root_key, ca=True)
    mid = _cert(f"{name} Intermediate", mid_key, f"{name} Root", root_key, ca=True)
    leaf = _cert(
        f"{name} Authenticator",
        leaf_key,
        f"{name} Intermediate",
        mid_key,
        ca=False,
        aaguid=certificate_aaguid if certificate_aaguid is not None else aaguid,
    )
    der = serialization.Encoding.DER
    return AttestationCA(
        root_pem=root.public_bytes(serialization.Encoding.PEM),
        x5c=(leaf.public_bytes(der), mid.public_bytes(der)),
        key=leaf_key,
    )


def client_data_json(
    *,
    type: str,
    challenge: bytes,
    origin: str,
    cross_origin: bool = False,
    top_origin: str | None = None,
) -> bytes:
    """clientDataJSON the way Chromium serialises it (§5.8.1.1)."""
    data: dict[str, Any] = {
        "type": type,
        "challenge": b64url(challenge),
        "origin": origin,
        "crossOrigin": cross_origin,
    }
    if top_origin is not None:
        data["topOrigin"] = top_origin
    return json.dumps(data, separators=(",", ":")).encode()


def authenticator_data(
    *,
    rp_id: str,
    up: bool,
    uv: bool,
    be: bool,
    bs: bool,
    sign_count: int,
    attested: tuple[bytes, bytes, bytes] | None = None,
) -> bytes:
    """authenticatorData (§6.1); ``attested`` is (aaguid, credential id, COSE key)."""
    flags = (
        (FLAG_UP if up else 0)
        | (FLAG_UV if uv else 0)
        | (FLAG_BE if be else 0)
        | (FLAG_BS if bs else 0)
        | (FLAG_AT if attested else 0)
    )
    data = _rp_id_hash(rp_id) + bytes([flags]) + sign_count.to_bytes(4, "big")
    if attested:
        aaguid, credential_id, cose_key = attested
        data += aaguid + len(credential_id).to_bytes(2, "big") + credential_id + cose_key
    return data


class SoftAuthenticator:
    """A CTAP2-like authenticator in software. Per-call keyword arguments override the
    defaults given here; anything left out behaves like a well-behaved authenticator."""

    def __init__(
        self,
        *,
        origin: str = "https://example.org",
        rp_id: str = "example.org",
        aaguid: bytes | str = ZERO_AAGUID,
        transports: tuple[str, ...] = ("usb",),
        attachment: str | None = "cross-platform",
        backup_eligible: bool = False,
        backup_state: bool = False,
        counter_step: int = 1,
    ) -> None:
        self.origin = origin
        self.rp_id = rp_id
        self.aaguid = _aaguid_bytes(aaguid)
        self.transports = transports
        self.attachment = attachment
        self.backup_eligible = backup_eligible
        self.backup_state = backup_state
        #: 0 behaves like a synced passkey provider (counters always 0)
        self.counter_step = counter_step

    def register(
        self,
        *,
        challenge: bytes,
        user_handle: bytes = b"keystile-test-user",
        alg: int = ES256,
        attestation: Attestation = "none",
        ca: AttestationCA | None = None,
        origin: str | None = None,
        rp_id: str | None = None,
        type: str = "webauthn.create",
        up: bool = True,
        uv: bool = True,
        be: bool | None = None,
        bs: bool | None = None,
        sign_count: int = 0,
        credential_id: bytes | None = None,
        aaguid: bytes | str | None = None,
        cross_origin: bool = False,
        top_origin: str | None = None,
        raw_id: bytes | None = None,
        cose_key: bytes | None = None,
    ) -> tuple[dict[str, Any], SoftCredential]:
        """Create a credential; return (the browser's JSON, the credential).

        ``raw_id`` makes the JSON's id/rawId differ from the attested credential id;
        ``cose_key`` replaces the encoded public key (e.g. to claim another algorithm).
        """
        rp_id = rp_id or self.rp_id
        key = generate_key(alg)
        credential = SoftCredential(
            credential_id=credential_id if credential_id is not None else os.urandom(32),
            private_key=key,
            alg=alg,
            rp_id=rp_id,
            user_handle=user_handle,
            sign_count=sign_count,
            backup_eligible=self.backup_eligible if be is None else be,
            backup_state=self.backup_state if bs is None else bs,
            cose_key=cose_key or b"",
        )
        aaguid_raw = self.aaguid if aaguid is None else _aaguid_bytes(aaguid)
        auth_data = authenticator_data(
            rp_id=rp_id,
            up=up,
            uv=uv,
            be=credential.backup_eligible,
            bs=credential.backup_state,
            sign_count=sign_count,
            attested=(aaguid_raw, credential.credential_id, credential.cose_key),
        )
        cdata = client_data_json(
            type=type,
            challenge=challenge,
            origin=origin or self.origin,
            cross_origin=cross_origin,
            top_origin=top_origin,
        )
        signed = auth_data + hashlib.sha256(cdata).digest()
        statement: dict[str, Any]
        if attestation == "none":
            fmt, statement = "none", {}
        elif attestation == "packed-self":
            fmt, statement = "packed", {"alg": alg, "sig": sign(key, signed)}
        else:
            ca = ca or attestation_ca(aaguid_raw)
            fmt = "packed"
            statement = {"alg": ES256, "sig": sign(ca.key, signed), "x5c": list(ca.x5c)}
        attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        public_key_der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        shown_id = b64url(raw_id if raw_id is not None else credential.credential_id)
        response = {
            "id": shown_id,
            "rawId": shown_id,
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(cdata),
                "attestationObject": b64url(attestation_object),
                "authenticatorData": b64url(auth_data),
                "publicKey": b64url(public_key_der),
                "publicKeyAlgorithm": alg,
                "transports": list(self.transports),
            },
        }
        return response, credential

    def authenticate(
        self,
        credential: SoftCredential,
        *,
        challenge: bytes,
        origin: str | None = None,
        rp_id: str | None = None,
        type: str = "webauthn.get",
        up: bool = True,
        uv: bool = True,
        be: bool | None = None,
        bs: bool | None = None,
        sign_count: int | None = None,
        user_handle: bytes | None = DEFAULT,
        sign_with: SoftCredential | PrivateKey | None = None,
        cross_origin: bool = False,
        top_origin: str | None = None,
    ) -> dict[str, Any]:
        """Sign an assertion; return the browser's JSON.

        The credential's counter advances by ``counter_step`` unless ``sign_count`` is
        given. ``user_handle=None`` omits it (a non-discoverable credential);
        ``sign_with`` signs with another credential's (or any) key.
        """
        if sign_count is None:
            credential.sign_count += self.counter_step
            sign_count = credential.sign_count
        else:
            credential.sign_count = sign_count
        auth_data = authenticator_data(
            rp_id=rp_id or credential.rp_id,
            up=up,
            uv=uv,
            be=credential.backup_eligible if be is None else be,
            bs=credential.backup_state if bs is None else bs,
            sign_count=sign_count,
        )
        cdata = client_data_json(
            type=type,
            challenge=challenge,
            origin=origin or self.origin,
            cross_origin=cross_origin,
            top_origin=top_origin,
        )
        if isinstance(sign_with, SoftCredential):
            key = sign_with.private_key
        else:
            key = sign_with or credential.private_key
        signature = sign(key, auth_data + hashlib.sha256(cdata).digest())
        handle = credential.user_handle if user_handle is DEFAULT else user_handle
        return {
            "id": credential.id_b64url,
            "rawId": credential.id_b64url,
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(cdata),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(handle) if handle is not None else None,
            },
        }

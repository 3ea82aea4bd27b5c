"""app.services.mds: MDS3 blobs signed here with a test root, then every way to break one."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from app.config import load_settings
from app.services import mds
from app.services.mds import MetadataError
from app.services.passkeys import policy_from_settings

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # certificates are made around it
YUBIKEY = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
BROKEN = "00000000-1111-2222-3333-444444444444"
Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _cert(
    cn: str,
    key: Key,
    issuer: tuple[str, Key] | None = None,
    *,
    ca: bool,
    days: tuple[int, int] = (-365, 365),
) -> x509.Certificate:
    issuer_cn, issuer_key = issuer or (cn, key)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


class Pki:
    """root -> intermediate -> blob signer, as FIDO's GlobalSign chain is shaped."""

    def __init__(
        self,
        signer: str = "ES256",
        leaf_days: tuple[int, int] = (-30, 30),
        intermediate_is_ca: bool = True,
    ) -> None:
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _cert("Test MDS Root", self.root_key, ca=True)
        mid_key = ec.generate_private_key(ec.SECP256R1())
        self.mid = _cert(
            "Test MDS CA", mid_key, ("Test MDS Root", self.root_key), ca=intermediate_is_ca
        )
        self.key: Key = (
            ec.generate_private_key(ec.SECP256R1())
            if signer == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self.leaf = _cert("mds.test", self.key, ("Test MDS CA", mid_key), ca=False, days=leaf_days)
        self.alg = signer

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def chain(self) -> list[x509.Certificate]:
        return [self.leaf, self.mid]

    def sign(
        self,
        payload: dict[str, Any],
        *,
        alg: str | None = None,
        chain: list[x509.Certificate] | None = None,
    ) -> str:
        header = {
            "alg": alg or self.alg,
            "typ": "JWT",
            "x5c": [
                _std_b64(c.public_bytes(serialization.Encoding.DER))
                for c in (self.chain() if chain is None else chain)
            ],
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(
                self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
            )
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:
            signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _std_b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def attestation_root() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return _cert("Yubico Test Attestation Root", key, ca=True)


def payload(root: x509.Certificate | None = None) -> dict[str, Any]:
    root = root or attestation_root()
    der = root.public_bytes(serialization.Encoding.DER)
    return {
        "legalHeader": "test",
        "no": 42,
        "nextUpdate": "2026-07-01",
        "entries": [
            {
                "aaguid": YUBIKEY.upper(),
                "metadataStatement": {
                    "description": "YubiKey 5 Series",
                    "attestationRootCertificates": [_std_b64(der)],
                },
                "statusReports": [{"status": "FIDO_CERTIFIED_L1"}],
            },
            {
                "aaguid": BROKEN,
                "metadataStatement": {"description": "Leaky Key"},
                "statusReports": [
                    {"status": "FIDO_CERTIFIED"},
                    {"status": "USER_KEY_PHYSICAL_COMPROMISE"},
                ],
            },
            # A U2F entry: identified by key identifiers, not an AAGUID.
            {
                "attestationCertificateKeyIdentifiers": ["abcd"],
                "metadataStatement": {"description": "Old U2F key"},
            },
            "not an entry",
        ],
    }


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def test_a_signed_blob_is_indexed_by_aaguid(pki: Pki) -> None:
    root = attestation_root()
    blob = mds.load(pki.sign(payload(root)), root_pem=pki.root_pem, now=NOW)
    assert (blob.number, blob.next_update) == (42, "2026-07-01")
    assert sorted(blob.entries) == [BROKEN, YUBIKEY]
    assert blob.description(YUBIKEY.replace("-", "").upper()) == "YubiKey 5 Series"
    assert blob.attestation_roots(YUBIKEY) == [root.public_bytes(serialization.Encoding.PEM)]
    assert dict(blob.attestation_roots_by_aaguid) == {YUBIKEY: blob.attestation_roots(YUBIKEY)}
    assert blob.description("11111111-2222-3333-4444-555555555555") is None
    assert blob.attestation_roots(None) == [] and not blob.is_compromised("nonsense")


@pytest.mark.parametrize(
    ("statuses", "compromised"),
    [
        (["FIDO_CERTIFIED"], False),
        (["NOT_FIDO_CERTIFIED", "UPDATE_AVAILABLE"], False),
        (["REVOKED"], True),
        (["USER_VERIFICATION_BYPASS"], True),
        (["ATTESTATION_KEY_COMPROMISE"], True),
        (["USER_KEY_REMOTE_COMPROMISE"], True),
        (["FIDO_CERTIFIED", "USER_KEY_PHYSICAL_COMPROMISE"], True),
    ],
)
def test_compromised_statuses(pki: Pki, statuses: list[str], compromised: bool) -> None:
    body = {
        "no": 1,
        "entries": [{"aaguid": YUBIKEY, "statusReports": [{"status": s} for s in statuses]}],
    }
    blob = mds.load(pki.sign(body), root_pem=pki.root_pem, now=NOW)
    assert blob.is_compromised(YUBIKEY) is compromised


def test_rs256_and_a_chain_that_carries_its_root() -> None:
    pki = Pki(signer="RS256")
    token = pki.sign(payload(), chain=[pki.leaf, pki.mid, pki.root])
    assert mds.load(token, root_pem=pki.root_pem, now=NOW).is_compromised(BROKEN)


def _tamper_payload(token: str) -> str:
    head, _, sig = token.split(".")
    return f"{head}.{_b64(json.dumps({'no': 43, 'entries': []}).encode())}.{sig}"


def _tamper_signature(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[5] ^= 1
    return f"{head}.{body}.{_b64(bytes(raw))}"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _tamper_payload(p.sign(payload())), "signature does not verify"),
        (lambda p: _tamper_signature(p.sign(payload())), "signature does not verify"),
        (lambda p: p.sign(payload(), alg="none"), "unsupported JWS algorithm"),
        (lambda p: p.sign(payload(), alg="HS256"), "unsupported JWS algorithm"),
        (lambda p: p.sign(payload(), alg="RS256"), "unsupported JWS algorithm"),
        (lambda p: p.sign(payload(), chain=[]), "x5c is empty"),
        (lambda p: p.sign(payload(), chain=[p.leaf]), "not issued by"),
        (lambda p: p.sign(payload(), chain=[p.mid, p.leaf]), "may not issue certificates"),
        (lambda p: Pki().sign(payload()), "not issued by"),  # another root's chain
        (lambda p: "a.b", "compact JWS"),
        (lambda p: "!!!.e30.AA", "header is not"),
        (lambda p: f"{_b64(b'[1]')}.e30.AA", "header is not a JSON object"),
        (
            lambda p: f"{_b64(json.dumps({'alg': 'ES256', 'x5c': ['%%']}).encode())}.e30.AA",
            "not base64",
        ),
        (
            lambda p: (
                f"{_b64(json.dumps({'alg': 'ES256', 'x5c': [_std_b64(b'junk')]}).encode())}.e30.AA"
            ),
            "unreadable certificate",
        ),
    ],
)
def test_refused_blobs(pki: Pki, make: Any, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        mds.load(make(pki), root_pem=pki.root_pem, now=NOW)


def test_expired_signer_and_non_ca_intermediate() -> None:
    expired = Pki(leaf_days=(-60, -1))
    with pytest.raises(MetadataError, match="expired or not yet valid"):
        mds.load(expired.sign(payload()), root_pem=expired.root_pem, now=NOW)
    not_ca = Pki(intermediate_is_ca=False)
    with pytest.raises(MetadataError, match="may not issue certificates"):
        mds.load(not_ca.sign(payload()), root_pem=not_ca.root_pem, now=NOW)


def test_payload_must_list_entries(pki: Pki) -> None:
    with pytest.raises(MetadataError, match="no entries"):
        mds.load(pki.sign({"no": 1}), root_pem=pki.root_pem, now=NOW)
    with pytest.raises(MetadataError, match="not a PEM"):
        mds.load(pki.sign(payload()), root_pem=b"nope", now=NOW)


def test_files_and_the_passkey_policy(pki: Pki, tmp_path: Path) -> None:
    """KEYSTILE_MDS_BLOB + KEYSTILE_MDS_ROOT: read, verified and used at start-up."""
    blob_file, root_file = tmp_path / "blob.jwt", tmp_path / "root.pem"
    blob_file.write_text(pki.sign(payload()))
    root_file.write_bytes(pki.root_pem)
    assert mds.load_files(str(blob_file), str(root_file), now=NOW).description(YUBIKEY)
    settings = load_settings(
        {},
        {
            "env": "testing",
            "secret_key": "x" * 40,
            "mds_blob": str(blob_file),
            "mds_root": str(root_file),
        },
    )
    policy = policy_from_settings(settings)
    assert policy.metadata is not None and policy.metadata.is_compromised(BROKEN)
    blob_file.write_text(_tamper_payload(pki.sign(payload())))
    with pytest.raises(ValueError, match="KEYSTILE_MDS_BLOB: the blob's signature"):
        policy_from_settings(settings)
    with pytest.raises(ValueError, match="needs KEYSTILE_MDS_ROOT"):
        policy_from_settings(
            load_settings(
                {}, {"env": "testing", "secret_key": "x" * 40, "mds_blob": str(blob_file)}
            )
        )

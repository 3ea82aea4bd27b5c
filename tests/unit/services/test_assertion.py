"""The gate's signed assertion: what a protected site verifying it with the JWK Set accepts
and refuses, and the signing key every worker shares."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.config import ConfigError, load_settings
from app.models import Strength
from app.services import assertion
from app.services.access import Subject
from app.services.assertion import AssertionKeyError, AssertionKeys
from app.services.gate import Identity

ISSUER = "https://login.example.org"
AUDIENCE = "https://wiki.example.com"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _signed_now() -> None:
    """Tokens are verified against the clock, so each test signs at its own start: a time
    taken when the module was imported can be long past when the test runs (xdist)."""
    global NOW
    NOW = datetime.now(UTC).replace(microsecond=0)


def identity(**subject: Any) -> Identity:
    values: dict[str, Any] = {
        "username": "alice",
        "username_normalized": "alice",
        "role": "user",
        "groups": frozenset({"ops", "dev"}),
        "strength": Strength.HARDWARE_KEY,
        "signed_in_at": NOW - timedelta(minutes=3),
        **subject,
    }
    return Identity(
        subject=Subject(**values), email="alice@example.org", display_name="Alice", method="passkey"
    )


def verify(token: str, jwks: dict[str, Any], *, audience: str = AUDIENCE) -> dict[str, Any]:
    """What a protected site does: the key by ``kid`` from the set, ES256 only, its own
    origin as the audience, Keystile as the issuer, every time claim required."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["ES256"],
        audience=audience,
        issuer=ISSUER,
        options={"require": ["exp", "iat", "sub", "aud", "iss", "jti"]},
    )
    return claims


@pytest.fixture
def keys(tmp_path: Path) -> AssertionKeys:
    return AssertionKeys(key_file="", instance_path=str(tmp_path))


def test_a_site_verifying_with_the_jwks_reads_who_signed_in(keys: AssertionKeys) -> None:
    token = assertion.sign(keys, identity(), issuer=ISSUER + "/", audience=AUDIENCE, now=NOW)
    claims = verify(token, keys.jwks())
    jti = claims.pop("jti")
    assert len(jti) >= 22
    assert claims == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(NOW.timestamp()),
        "nbf": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 30,
        "auth_time": int((NOW - timedelta(minutes=3)).timestamp()),
        "auth_method": "passkey",
        "auth_strength": "hardware-key",
        "groups": ["dev", "ops"],
        "email": "alice@example.org",
        "name": "Alice",
    }
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == keys.jwks()["keys"][0]["kid"]
    again = assertion.sign(keys, identity(), issuer=ISSUER, audience=AUDIENCE, now=NOW)
    assert verify(again, keys.jwks())["jti"] != jti


def test_an_assertion_for_another_site_is_refused(keys: AssertionKeys) -> None:
    token = assertion.sign(keys, identity(), issuer=ISSUER, audience=AUDIENCE, now=NOW)
    for other in (
        "https://evil.example.com",
        "http://wiki.example.com",
        "https://wiki.example.com:8443",
    ):
        with pytest.raises(jwt.InvalidAudienceError):
            verify(token, keys.jwks(), audience=other)


def test_an_expired_assertion_is_refused(keys: AssertionKeys) -> None:
    token = assertion.sign(
        keys,
        identity(),
        issuer=ISSUER,
        audience=AUDIENCE,
        now=datetime.now(UTC) - timedelta(seconds=31),
    )
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(token, keys.jwks())


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_tampered_assertion_is_refused(keys: AssertionKeys, tmp_path: Path) -> None:
    token = assertion.sign(keys, identity(), issuer=ISSUER, audience=AUDIENCE, now=NOW)
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = ".".join((head, _b64({**claims, "sub": "admin"}), signature))
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, keys.jwks())
    # Another key claiming the same kid, and the "none" algorithm, are no better.
    other = AssertionKeys(key_file="", instance_path=str(tmp_path / "elsewhere"))
    stranger = assertion.sign(other, identity(), issuer=ISSUER, audience=AUDIENCE, now=NOW)
    _, s_body, s_sig = stranger.split(".")
    relabelled = ".".join(
        (_b64({"alg": "ES256", "kid": keys.signing().kid, "typ": "JWT"}), s_body, s_sig)
    )
    with pytest.raises(jwt.InvalidSignatureError):
        verify(relabelled, keys.jwks())
    unsigned = ".".join((_b64({"alg": "none", "kid": keys.signing().kid}), body, ""))
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(unsigned, keys.jwks())


def test_the_generated_key_is_private_and_every_worker_gets_the_same(tmp_path: Path) -> None:
    workers = [AssertionKeys(key_file="", instance_path=str(tmp_path)) for _ in range(8)]
    kids: list[str] = []
    start = threading.Barrier(len(workers))

    def first_use(keys: AssertionKeys) -> None:
        start.wait()
        kids.append(keys.signing().kid)

    threads = [threading.Thread(target=first_use, args=(k,)) for k in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kids) == 8 and len(set(kids)) == 1
    key_file = tmp_path / assertion.GENERATED_KEY
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert not list(tmp_path.glob("*.tmp"))
    # A later start reads the same file.
    assert AssertionKeys(key_file="", instance_path=str(tmp_path)).signing().kid == kids[0]


def _pem(key: Any, *, public: bool = False) -> bytes:
    if public:
        return key.public_key().public_bytes(
            serialization.Encoding.PEM,  # type: ignore[no-any-return]
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    return key.private_bytes(
        serialization.Encoding.PEM,  # type: ignore[no-any-return]
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_a_rotation_publishes_the_previous_key_and_signs_with_the_new(tmp_path: Path) -> None:
    old, new = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "old.pem").write_bytes(_pem(old, public=True))
    (tmp_path / "new.pem").write_bytes(_pem(new))
    before = AssertionKeys(key_file=str(tmp_path / "old-private.pem"), instance_path="")
    (tmp_path / "old-private.pem").write_bytes(_pem(old))
    token = assertion.sign(before, identity(), issuer=ISSUER, audience=AUDIENCE, now=NOW)
    after = AssertionKeys(
        key_file=str(tmp_path / "new.pem"),
        instance_path="",
        previous=[str(tmp_path / "old.pem"), str(tmp_path / "old-private.pem")],
    )
    kids = [k["kid"] for k in after.jwks()["keys"]]
    assert kids == [assertion.thumbprint(new.public_key()), assertion.thumbprint(old.public_key())]
    assert all(
        set(k) == {"kty", "crv", "x", "y", "kid", "use", "alg"} and "d" not in k
        for k in after.jwks()["keys"]
    )
    assert verify(token, after.jwks())["sub"] == "alice"  # signed before, verified after
    fresh = assertion.sign(after, identity(), issuer=ISSUER, audience=AUDIENCE, now=NOW)
    assert jwt.get_unverified_header(fresh)["kid"] == kids[0]


def test_rfc7638_thumbprint_example() -> None:
    # RFC 7638 has an RSA example only; this pins the EC members' order and encoding.
    key = ec.EllipticCurvePublicNumbers(
        x=int.from_bytes(base64.urlsafe_b64decode("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=")),
        y=int.from_bytes(base64.urlsafe_b64decode("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0=")),
        curve=ec.SECP256R1(),
    ).public_key()
    members = (
        '{"crv":"P-256","kty":"EC","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",'
        '"y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}'
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest())
    assert assertion.thumbprint(key) == expected.rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("https", "wiki.example.com", "https://wiki.example.com"),
        ("https", "Wiki.Example.COM:443", "https://wiki.example.com"),
        ("https", "wiki.example.com:8443", "https://wiki.example.com:8443"),
        ("HTTP", "wiki.example.com:80", "http://wiki.example.com"),
        ("http", "wiki.example.com:443", "http://wiki.example.com:443"),
        ("https", "[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
        ("https", "127.0.0.1", "https://127.0.0.1"),
    ],
    ids=["plain", "default-port", "port", "http-default", "http-443", "ipv6", "ipv4"],
)
def test_the_audience_is_the_protected_origin(scheme: str, host: str, origin: str) -> None:
    assert assertion.origin_of(scheme, host) == origin


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key", "not a readable"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a readable"),
        ("rsa", "not an EC P-256 key"),
        ("p384", "not an EC P-256 key"),
    ],
    ids=["garbage", "bad-pem", "rsa", "p384"],
)
def test_a_key_file_that_cannot_sign_es256_stops_start_up(
    tmp_path: Path, content: bytes | str, message: str
) -> None:
    if content == "rsa":
        content = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif content == "p384":
        content = _pem(ec.generate_private_key(ec.SECP384R1()))
    assert isinstance(content, bytes)
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    with pytest.raises(AssertionKeyError, match=message):
        AssertionKeys(key_file=str(path), instance_path="").signing()
    for name in ("GATE_ASSERTION_KEY", "GATE_ASSERTION_PREVIOUS_KEYS"):
        with pytest.raises(ConfigError, match=f"KEYSTILE_{name}: .*{message}"):
            load_settings({"KEYSTILE_ENV": "development", f"KEYSTILE_{name}": str(path)})
    with pytest.raises(ConfigError, match="No such file"):
        load_settings(
            {
                "KEYSTILE_ENV": "development",
                "KEYSTILE_GATE_ASSERTION_KEY": str(tmp_path / "missing.pem"),
            }
        )

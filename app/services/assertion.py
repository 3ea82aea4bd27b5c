"""The gate's signed assertion: a short-lived JWT in ``Remote-Assertion`` that a protected
site can verify instead of trusting the ``Remote-*`` headers, and the keys that sign it.

The token is an RFC 7519 JWT signed with ES256 (RFC 7518 §3.4, ECDSA P-256 and SHA-256):
``iss`` is Keystile's origin, ``aud`` the protected origin (``scheme://host[:port]`` of the
URL the proxy checked, the default port left out), ``sub`` the username, ``iat``/``exp``
at most :data:`LIFETIME` apart, a random ``jti``, ``auth_time`` (OpenID Connect Core §2),
and ``auth_method``, ``auth_strength`` and ``groups`` as in the ``Remote-*`` headers. The
public keys are a JWK Set (RFC 7517 §5) with each ``kid`` the key's RFC 7638 thumbprint,
so a site picks the key by ``kid`` and rotation needs no coordination: the set can publish
the previous key beside the current one.

The signing key is a PEM file: one an operator names, or one generated on first use in the
instance folder. Generating takes an exclusive file lock, so every worker and every
instance sharing that folder ends up with the one key the first of them wrote.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from app.services.access import strength_name
from app.services.gate import Identity

#: how long an assertion is good for: the site verifies it on the request it came with
LIFETIME = timedelta(seconds=30)
ALGORITHM = "ES256"
#: the key generated on first use, in the instance folder
GENERATED_KEY = "gate-assertion-key.pem"
_DEFAULT_PORTS = {"https": 443, "http": 80}


class AssertionKeyError(ValueError):
    """A key file that cannot serve: unreadable, not PEM, or not an EC P-256 key."""


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey
    kid: str


class AssertionKeys:
    """The signing key and the published public keys, loaded on first use (thread-safe).

    ``key_file`` names the signing key (PEM, EC P-256); empty: :data:`GENERATED_KEY` in
    ``instance_path``, created on first use. ``previous`` are PEM files (private or public
    keys) published in the JWK Set but never used to sign: the key before a rotation.
    """

    def __init__(self, *, key_file: str, instance_path: str, previous: Iterable[str] = ()) -> None:
        self._key_file = Path(key_file) if key_file else Path(instance_path) / GENERATED_KEY
        self._generate = not key_file
        self._previous = tuple(previous)
        self._lock = threading.Lock()
        self._signing: SigningKey | None = None
        self._jwks: dict[str, list[dict[str, str]]] | None = None

    def signing(self) -> SigningKey:
        if self._signing is None:
            with self._lock:
                if self._signing is None:
                    private = _load_or_create(self._key_file, generate=self._generate)
                    self._signing = SigningKey(private, thumbprint(private.public_key()))
        return self._signing

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JWK Set: the signing key first, then the previous ones."""
        if self._jwks is None:
            keys = [self.signing().private.public_key()]
            keys += [_public_key(Path(p)) for p in self._previous]
            seen: dict[str, dict[str, str]] = {}
            for key in keys:
                seen.setdefault(thumbprint(key), public_jwk(key))
            self._jwks = {"keys": list(seen.values())}
        return self._jwks


def check_key_files(key_file: str, previous: Iterable[str]) -> None:
    """Read every named key file now (start-up), as :class:`AssertionKeys` will.

    Raises:
        AssertionKeyError: a file that cannot serve, named in the message.
    """
    if key_file:
        _private_key(Path(key_file))
    for path in previous:
        _public_key(Path(path))


def sign(
    keys: AssertionKeys, identity: Identity, *, issuer: str, audience: str, now: datetime
) -> str:
    """The assertion for ``identity`` on a request to ``audience`` (an origin)."""
    key = keys.signing()
    s = identity.subject
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer.rstrip("/"),
        "aud": audience,
        "sub": s.username,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(LIFETIME.total_seconds()),
        "jti": secrets.token_urlsafe(16),
        "auth_time": int(s.signed_in_at.timestamp()),
        "auth_method": identity.method,
        "auth_strength": strength_name(s.strength) if s.strength is not None else "",
        "groups": sorted(s.groups),
        "email": identity.email,
        "name": identity.display_name,
    }
    return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})


def origin_of(scheme: str, host: str) -> str:
    """``scheme://host[:port]`` of a request to ``host`` (as sent, port included): the ASCII
    serialisation of an origin (RFC 6454 §6.2), lower-cased, the default port left out."""
    scheme = scheme.lower()
    try:
        parts = urlsplit(f"//{host}")
        name, port = parts.hostname or "", parts.port
    except ValueError:  # the gate read the host already; keep it as sent
        return f"{scheme}://{host.lower()}"
    if ":" in name:
        name = f"[{name}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{name}"
    return f"{scheme}://{name}:{port}"


def thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """The key's ``kid``: its RFC 7638 JWK thumbprint."""
    return public_jwk(key)["kid"]


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The key as a JWK (RFC 7518 §6.2.1) with its ``kid``, ``use`` and ``alg``."""
    full: dict[str, str] = ECAlgorithm.to_jwk(key, as_dict=True)
    # RFC 7638 §3: SHA-256 of the required members in lexicographic order, no spaces.
    required = {name: full[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(
        json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    ).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**required, "kid": kid, "use": "sig", "alg": ALGORITHM}


def _load_or_create(path: Path, *, generate: bool) -> ec.EllipticCurvePrivateKey:
    if not generate:
        return _private_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        return _private_key(path)


def _private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssertionKeyError(f"{path}: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise AssertionKeyError(
            f"{path}: not a readable unencrypted PEM private key ({exc.__class__.__name__})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise AssertionKeyError(f"{path}: not an EC P-256 key (ES256 needs one)")
    return key


def _public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """A previous key: a PEM public key, or the private key it belongs to."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AssertionKeyError(f"{path}: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        return _private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise AssertionKeyError(f"{path}: not a readable PEM public or private key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise AssertionKeyError(f"{path}: not an EC P-256 key (ES256 needs one)")
    return key

"""A browser for the test client: its cookies and a software authenticator plugged into it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_from
from tests.support.soft_authenticator import SoftAuthenticator, SoftCredential, unb64url

ORIGIN = "https://localhost"
YUBIKEY_AAGUID = "cb69481e-8ff7-4039-93ec-0a2729a154a8"  # "YubiKey 5 Series" in aaguids.json
YUBIKEY_AAGUID_BYTES = bytes.fromhex(YUBIKEY_AAGUID.replace("-", ""))
SESSION_COOKIE = "__Host-keystile"


class Browser:
    """One browser: a test client with its cookies, and an authenticator plugged into it."""

    def __init__(self, client: FlaskClient, authenticator: SoftAuthenticator | None = None):
        self.client = client
        self.authenticator = authenticator or SoftAuthenticator(origin=ORIGIN, rp_id="localhost")

    def csrf(self) -> str:
        return csrf_from(self.client.get("/login").get_data(as_text=True))

    def post(self, path: str, body: Any = None, *, csrf: bool = True) -> Any:
        data = body if isinstance(body, bytes | str) else json.dumps(body or {})
        headers = {"Content-Type": "application/json"}
        if csrf:
            headers["X-CSRFToken"] = self.csrf()
        return self.client.post(path, data=data, headers=headers)

    def password_login(self, username: str = "alice") -> None:
        resp = self.client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf_token": self.csrf()}
        )
        assert resp.status_code == 303

    # -- registration ------------------------------------------------------------------

    def creation_options(self, kind: str = "passkey", path: str = "/webauthn/register") -> Any:
        resp = self.post(f"{path}/options", {"kind": kind})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def register(
        self,
        kind: str = "passkey",
        *,
        path: str = "/webauthn/register",
        label: str = "",
        edit: Callable[[dict[str, Any]], Any] | None = None,
        **kw: Any,
    ) -> tuple[Any, SoftCredential]:
        options = self.creation_options(kind, path)
        response, credential = self.authenticator.register(
            challenge=unb64url(options["challenge"]),
            user_handle=unb64url(options["user"]["id"]),
            **kw,
        )
        if label:
            response["label"] = label
        body = edit(response) if edit else response
        return self.post(f"{path}/verify", body), credential

    # -- authentication ----------------------------------------------------------------

    def request_options(self, username: str | None = None) -> Any:
        resp = self.post("/webauthn/login/options", {"username": username} if username else {})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def assertion(
        self, credential: SoftCredential, username: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        options = self.request_options(username)
        return self.authenticator.authenticate(
            credential, challenge=unb64url(options["challenge"]), **kw
        )

    def login(
        self,
        credential: SoftCredential,
        username: str | None = None,
        edit: Callable[[dict[str, Any]], Any] | None = None,
        **kw: Any,
    ) -> Any:
        body = self.assertion(credential, username, **kw)
        return self.post("/webauthn/login/verify", edit(body) if edit else body)

    def session(self) -> Any:
        return self.client.get("/api/session").get_json()

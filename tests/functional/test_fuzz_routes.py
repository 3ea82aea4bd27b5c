"""Systematic fuzz: every route x method x role (anonymous, user, admin) x hostile input must
answer below 500, with a valid CSRF token so that the request reaches the view; the CLI's
commands with bad arguments must exit non-zero with a message and no traceback.

Each test gathers every failing input before it fails, so one run lists them all; the message
names the request exactly (method, path, query, headers, body) and the server-side traceback.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.models import Role, TokenPurpose, User, UserStatus, utcnow
from app.services import accounts, ca, credentials, tokens
from app.services.audit import SYSTEM
from tests.conftest import BACKENDS, PASSWORD, csrf_from, make_user
from tests.support import factories
from tests.support.soft_authenticator import SoftAuthenticator, b64url, unb64url

PROXY = "10.9.8.7"
BIG = 2**31  # one past the id columns
LIMIT = "100000/minute"
SESSION_COOKIE = "__Host-keystile-session"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # Limits high enough that the fuzz reaches the views instead of a 429; a trusted proxy
    # so that forwarded headers (X-Forwarded-*, certificate headers) are read at all.
    return {
        "login_limit_per_address": LIMIT,
        "login_limit_per_account": LIMIT,
        "request_limit_per_address": LIMIT,
        "challenge_limit_per_address": LIMIT,
        "trusted_proxies": PROXY,
        "cert_login": "auto",
    }


# -- what goes wrong is collected, with the server's traceback --------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def take(self) -> str:
        out = []
        for r in self.records:
            if r.exc_info:
                out.append("".join(traceback.format_exception(*r.exc_info)))
            else:
                out.append(r.getMessage())
        self.records.clear()
        return "\n".join(out)


@pytest.fixture
def capture() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


@dataclass
class Failure:
    role: str
    method: str
    path: str
    what: str
    status: int | str
    request: dict[str, Any]
    trace: str

    def __str__(self) -> str:
        req = {
            k: (v if len(repr(v)) < 300 else repr(v)[:300] + "...")
            for k, v in self.request.items()
            if v
        }
        tail = "\n".join(self.trace.strip().splitlines()[-6:])
        return (
            f"[{self.role}] {self.method} {self.path} ({self.what}) -> {self.status}\n"
            f"    request: {req}\n    {tail.replace(chr(10), chr(10) + '    ')}"
        )


@dataclass
class Ledger:
    failures: list[Failure] = field(default_factory=list)
    count: int = 0
    seen: set[tuple[str, str, str, str]] = field(default_factory=set)

    def check(self) -> None:
        if os.environ.get("FUZZ_COUNTS"):
            with open(os.environ["FUZZ_COUNTS"], "a") as out:
                out.write(
                    f"{os.environ.get('PYTEST_CURRENT_TEST', '?').split(' ')[0]} "
                    f"{self.count} {len(self.failures)}\n"
                )
        if self.failures:
            unique = {}
            for f in self.failures:
                unique.setdefault((f.method, f.path.split("?")[0], f.trace[-200:]), f)
            lines = "\n".join(str(f) for f in list(unique.values())[:60])
            pytest.fail(
                f"{len(self.failures)} of {self.count} fuzz requests failed "
                f"({len(unique)} distinct):\n{lines}",
                pytrace=False,
            )


# -- the world: users, credentials, a request, an enrolment link, a CA -------------------------


@dataclass
class World:
    app: Flask
    db: Session
    alice: User  # the signed-in user: a password only, so no step-up stops her
    root: User  # the signed-in admin
    bob: User  # a victim with a password, a passkey and a certificate
    carol: User  # enrolling: no credential yet
    alice_password_id: int = 0
    bob_passkey_id: int = 0
    bob_cert_id: int = 0
    request_id: int = 0
    enrol_token: str = ""

    def refresh_enrolment(self) -> None:
        with self.app.app_context():
            if tokens.peek(self.db, TokenPurpose.ENROLMENT, self.enrol_token, now=utcnow()) is None:
                self.db.rollback()
                carol = self.db.get(User, self.carol.id)
                assert carol is not None
                carol.status = UserStatus.ACTIVE
                self.enrol_token = accounts.issue_enrolment_link(
                    self.db, carol, client=SYSTEM, now=utcnow()
                )
                self.db.commit()


@pytest.fixture
def world(app: Flask, db: Session) -> World:
    alice = make_user(db, app, "alice")
    root = make_user(db, app, "root", admin=True)
    bob = make_user(db, app, "bob")
    carol = make_user(db, app, "carol", password=None)
    with app.app_context():
        w = World(app, db, alice, root, bob, carol)
        w.alice_password_id = credentials.live_password(db, alice.id).id  # type: ignore[union-attr]
        w.bob_passkey_id = factories.passkey(db, bob, synced=False).id
        w.bob_cert_id = factories.certificate(db, bob).id
        db.commit()
        accounts.request_account(
            db,
            accounts.RequestForm("dave", "Dave", "dave@example.org", "hi"),
            client=SYSTEM,
            now=utcnow(),
        )
        db.commit()
        w.request_id = accounts.pending_requests(db)[0].id
        w.enrol_token = accounts.issue_enrolment_link(db, carol, client=SYSTEM, now=utcnow())
        db.commit()
        ca.save(ca.init_ca(common_name="Fuzz CA"), Path(app.instance_path) / "ca")
    return w


# -- who sends the requests --------------------------------------------------------------------


class Actor:
    """A browser as one role; signs in again (and repairs its account) whenever a fuzzed
    request ended its session, changed its password or disabled it."""

    def __init__(self, world: World, role: str) -> None:
        self.world, self.role = world, role
        self.user = {"anon": None, "user": world.alice, "admin": world.root}[role]
        self.client: FlaskClient = world.app.test_client()
        self.token = ""

    def _repair(self) -> None:
        assert self.user is not None
        db, app = self.world.db, self.world.app
        with app.app_context():
            db.rollback()
            user = db.get(User, self.user.id)
            assert user is not None
            user.status = UserStatus.ACTIVE
            user.role = Role.ADMIN if self.role == "admin" else Role.USER
            db.commit()
            credentials.set_password(
                db,
                app.extensions["keystile.passwords"],
                user=user,
                new_password=PASSWORD,
                client=SYSTEM,
                now=utcnow(),
            )
            db.commit()

    def _sign_in(self) -> None:
        assert self.user is not None
        self.client = self.world.app.test_client()
        for _attempt in range(2):
            token = csrf_from(self.client.get("/login").get_data(as_text=True))
            resp = self.client.post(
                "/login",
                data={"username": self.user.username, "password": PASSWORD, "csrf_token": token},
            )
            if resp.status_code == 303:
                break
            self._repair()
        else:
            raise AssertionError(f"cannot sign {self.role} in again: {resp.status_code}")

    def ensure(self) -> None:
        state = self.client.get("/api/session")
        signed_in = state.status_code == 200
        if self.role == "anon":
            if signed_in:
                self.client = self.world.app.test_client()
                self.token = ""
        else:
            name = (state.get_json() or {}).get("username") if signed_in else None
            if name != self.user.username:  # type: ignore[union-attr]
                self._sign_in()
                self.token = ""
        if not self.token:
            self.refresh_token()

    def refresh_token(self) -> None:
        page = "/login" if self.role == "anon" else "/account"
        self.token = csrf_from(self.client.get(page).get_data(as_text=True))


# -- hostile values -----------------------------------------------------------------------------

UNDER_LIMIT = 200 * 1024
OVER_LIMIT = 300 * 1024

STRINGS: list[tuple[str, str]] = [
    ("empty", ""),
    ("space", "   "),
    ("huge", "a" * UNDER_LIMIT),
    ("over-limit", "a" * OVER_LIMIT),
    ("nul", "a\x00b"),
    ("rtl", "\u202eadmin\u202c"),
    ("combining", "e" + "\u0301" * 5000),
    ("fullwidth", "\uff41\uff44\uff4d\uff49\uff4e"),
    ("zero-width", "al\u200bice"),
    ("emoji", "\U0001f600" * 50),
    ("crlf", "a\r\nSet-Cookie: x=1"),
    ("negative", "-1"),
    ("big-int", "9" * 40),
    ("float", "1e400"),
    ("html", "<script>alert(1)</script>"),
    ("path", "../../etc/passwd"),
    ("percent", "%00%ff"),
    ("control", "".join(chr(c) for c in range(1, 32))),
    ("nonchar", "\ufffe\uffff\U0010ffff"),
    ("real-name", "ALICE"),
]

#: raw urlencoded bodies: invalid UTF-8 and other byte-level oddities, per field
RAW_VALUES: list[tuple[str, bytes]] = [
    ("pct-invalid-utf8", b"%FF%FE%C0%AF"),
    ("raw-invalid-utf8", b"\xff\xfe\xc0\xaf"),
    ("pct-surrogate", b"%ED%A0%80"),
    ("pct-nul", b"%00"),
    ("overlong", b"%C0%80"),
]

JSON_BODIES: list[tuple[str, bytes]] = [
    ("null", b"null"),
    ("number", b"1"),
    ("string", b'"s"'),
    ("array", b"[]"),
    ("empty-object", b"{}"),
    ("true", b"true"),
    ("nan", b"NaN"),
    ("inf", b"Infinity"),
    ("truncated", b"{"),
    ("trailing", b"{} x"),
    ("single-quotes", b"{'a': 1}"),
    ("bom", b"\xef\xbb\xbf{}"),
    ("utf16", '{"kind": "passkey"}'.encode("utf-16")),
    ("invalid-utf8", b'{"kind": "\xff\xfe"}'),
    ("nul", b'{"kind": "a\x00"}'),
    ("esc-nul", b'{"kind": "\\u0000"}'),
    ("lone-surrogate", b'{"username": "\\udc00"}'),
    ("deep-array", b"[" * 100_000),
    ("deep-object", b'{"a":' * 50_000),
    ("huge-number", b'{"kind": 1' + b"0" * 5000 + b"}"),
    ("big-exp", b'{"kind": 1e999999}'),
    ("dup-keys", b'{"kind": "passkey", "kind": "security-key"}'),
    ("huge-string", b'{"username": "' + b"a" * UNDER_LIMIT + b'"}'),
    ("over-limit", b'{"username": "' + b"a" * OVER_LIMIT + b'"}'),
    ("many-keys", json.dumps({f"k{i}": i for i in range(20000)}).encode()),
]
for _key in ("kind", "username", "label", "id", "rawId", "response", "type"):
    for _name, _value in [
        ("int", 1),
        ("null", None),
        ("list", ["a"]),
        ("dict", {"a": 1}),
        ("bool", True),
        ("float", 1.5),
        ("big", 10**30),
        ("neg", -1),
        ("empty", ""),
        ("rtl", "\u202e"),
        ("long", "x" * 5000),
    ]:
        JSON_BODIES.append((f"{_key}={_name}", json.dumps({_key: _value}).encode()))

_CDATA = base64.urlsafe_b64encode(b'{"challenge": "' + b"A" * 43 + b'"}').rstrip(b"=").decode()
for _name, _resp in [
    ("response-list", []),
    ("response-str", "x"),
    ("cdj-int", {"clientDataJSON": 1}),
    ("cdj-list", {"clientDataJSON": ["a"]}),
    ("cdj-junk", {"clientDataJSON": "!!!"}),
    ("cdj-not-json", {"clientDataJSON": b64url(b"\xff\xfe")}),
    ("cdj-json-list", {"clientDataJSON": b64url(b"[1]")}),
    ("cdj-challenge-int", {"clientDataJSON": b64url(b'{"challenge": 5}')}),
    (
        "cdj-challenge",
        {
            "clientDataJSON": _CDATA,
            "attestationObject": "AA",
            "authenticatorData": "AA",
            "signature": "AA",
            "userHandle": 5,
        },
    ),
    ("user-handle-long", {"clientDataJSON": _CDATA, "userHandle": "A" * 200}),
]:
    for _id in ["AAAA", "A", "", "=", "A" * 5000, "credential-id-1", 1]:
        JSON_BODIES.append(
            (
                f"envelope:{_name}:id={str(_id)[:8]}",
                json.dumps(
                    {"id": _id, "rawId": _id, "type": "public-key", "response": _resp}
                ).encode(),
            )
        )

CONTENT_TYPES = [
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=zzz",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded; charset=bogus",
    "",
    "*/*",
    "application/xml",
    "application/json; charset=\xff",
]

#: query strings (already encoded) tried on every route and method
QUERIES: list[str] = [
    "next=//evil.example/",
    "next=/%00",
    "next=/%FF%FE",
    "next=/" + "a" * 5000,
    "next=/%0d%0aSet-Cookie:x",
    "next=https:/evil",
    "next=/\\evil",
    "next=%E2%80%AE/x",
    "page=-1",
    f"page={'9' * 40}",
    "days=-1",
    "days=0",
    "days=7",
    "days=90",
    f"days={'9' * 40}",
    f"days={'9' * 5000}",
    "days=1e3",
    "days=abc",
    "days=%FF",
    "days=%00",
    "days=7&days=abc",
    "days=%EF%BC%97",
    "after=x",
    "after=%00",
    "after=%FF",
    f"after={'z' * 5000}",
    "before=x",
    "before=",
    "after=a&before=b",
    "after=2026-01-01T00:00:00~1",
    "after=2026-01-01T00:00:00~-1",
    f"after=2026-01-01T00:00:00~{'9' * 40}",
    "after=9999-99-99T00:00~1",
    "after=~",
    "after=0001-01-01T00:00:00%2B14:00~1",
    "after=2026-01-01T00:00:00%2B99:00~1",
    "since=9999-99-99",
    "until=9999-99-99",
    "since=9999-12-31",
    "until=9999-12-31",
    "since=0000-00-00",
    "since=2026-01-31T25:00",
    "since=2026-13-01",
    "since=%EF%BC%92026-01-01",
    "since=2026-01-01T00:00%2B24:00",
    "until=0001-01-01",
    "since=0001-01-01T00:00-23:59",
    "until=9999-12-31T23:59%2B00:00",
    "since=" + "1" * 32,
    "since=2026-01-01&until=2025-01-01",
    "format=xml",
    "format=",
    "format=%FF",
    "format=jsonl&format=csv",
    "format=JSONL",
    "q=" + "x" * 101,
    "q=%25",
    "q=_",
    "q=%00",
    "q=%FF",
    "q=%E2%80%AE",
    "filter=bogus",
    "filter=disabled",
    "filter=",
    "filter=%FF",
    "user=" + "u" * 65,
    "user=%FF",
    "user=alice",
    "method=bogus",
    "event=bogus",
    "event=auth:password:failure",
    "outcome=bogus",
    "outcome=failure",
    "reauth=1",
    "reauth=%FF",
    "code=x",
    "code=" + "c" * 200,
    "code=%00",
    "q[]=1&q[x]=2",
    "a=" + "b" * 65536,
    "&&&===&",
    "%",
    "%zz=%zz",
    "format=csv&endpoint=x&_external=1",
    "username=alice",
    "days=7&after=x&before=y&q=a&filter=disabled&user=alice",
]


@dataclass(frozen=True)
class Probe:
    """One request: what differs from a plain one."""

    what: str
    query: str = ""
    data: bytes | dict[str, Any] | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    environ: dict[str, Any] = field(default_factory=dict)
    csrf_header: bool = True
    csrf_field: bool = False


#: header-level probes tried on every route
def header_probes() -> list[Probe]:
    long = "x" * 65536
    return [
        Probe("cookie-64k", headers={"Cookie": "junk=" + long}),
        Probe("cookie-many", headers={"Cookie": "; ".join(f"c{i}={i}" for i in range(3000))}),
        Probe("cookie-bad-flask-session", headers={"Cookie": "__Host-keystile=.eJw.bad.sig"}),
        Probe("cookie-bad-auth", headers={"Cookie": f"{SESSION_COOKIE}={'s' * 129}"}),
        Probe("cookie-short-auth", headers={"Cookie": f"{SESSION_COOKIE}=abc"}),
        Probe("cookie-invalid-utf8", environ={"HTTP_COOKIE": f"{SESSION_COOKIE}=\xff\xfe"}),
        Probe("cookie-quoted", headers={"Cookie": f'{SESSION_COOKIE}="\\000\\377"'}),
        Probe("ua-64k", headers={"User-Agent": long}),
        Probe("ua-invalid-utf8", environ={"HTTP_USER_AGENT": "\xff\xfe\x00"}),
        Probe("host-empty", environ={"HTTP_HOST": ""}),
        Probe("host-evil", headers={"Host": "evil.example"}),
        Probe("host-bad-port", headers={"Host": "localhost:99999"}),
        Probe("host-bracket", environ={"HTTP_HOST": "[::1"}),
        Probe("host-space", environ={"HTTP_HOST": "a b"}),
        Probe("host-unicode", environ={"HTTP_HOST": "\xfcnicode.example"}),
        Probe("host-long", environ={"HTTP_HOST": "h" * 10000}),
        Probe("host-neg-port", environ={"HTTP_HOST": "localhost:-1"}),
        Probe("accept-json", headers={"Accept": "application/json"}),
        Probe("accept-junk", headers={"Accept": ";;;q=abc,*/*;q=NaN,,"}),
        Probe("accept-lang-junk", headers={"Accept-Language": "\x7f;q=x" * 100}),
        Probe(
            "xff-junk",
            headers={"X-Forwarded-For": "not an ip, \xff, ::ffff:1.2.3.4%eth0"},
            environ={"REMOTE_ADDR": PROXY},
        ),
        Probe(
            "xff-long",
            headers={"X-Forwarded-For": ",".join(["1.1.1.1"] * 5000)},
            environ={"REMOTE_ADDR": PROXY},
        ),
        Probe(
            "xff-ipv6",
            headers={"X-Forwarded-For": "2001:db8::1, fe80::1%25eth0"},
            environ={"REMOTE_ADDR": PROXY},
        ),
        Probe(
            "xfp-junk",
            headers={"X-Forwarded-Proto": "gopher, https ,\xff"},
            environ={"REMOTE_ADDR": PROXY},
        ),
        Probe(
            "request-id", headers={"X-Request-Id": "\u202e" * 64}, environ={"REMOTE_ADDR": PROXY}
        ),
        Probe("remote-addr-junk", environ={"REMOTE_ADDR": "not-an-ip"}),
        Probe("remote-addr-empty", environ={"REMOTE_ADDR": ""}),
        Probe("remote-addr-v6", environ={"REMOTE_ADDR": "::ffff:10.9.8.7"}),
        Probe("cert-header-untrusted", headers={"X-SSL-Client-Cert": "garbage"}),
        Probe(
            "cert-header-proxy",
            headers={
                "X-SSL-Client-Cert": "-----BEGIN CERTIFICATE-----"
                "%0AAAAA%0A-----END CERTIFICATE-----",
                "X-SSL-Client-Verify": "SUCCESS",
            },
            environ={"REMOTE_ADDR": PROXY},
        ),
        Probe("cert-env-junk", environ={"SSL_CLIENT_CERT": "garbage", "wsgi.url_scheme": "https"}),
        Probe("origin-null", headers={"Origin": "null", "Referer": "\xff://"}),
        Probe("content-length-junk", environ={"CONTENT_LENGTH": "abc"}),
        Probe("content-length-negative", environ={"CONTENT_LENGTH": "-1"}),
        Probe("content-length-huge", environ={"CONTENT_LENGTH": "9" * 30}),
        Probe("chunked", headers={"Transfer-Encoding": "chunked"}),
        Probe("range-junk", headers={"Range": "bytes=9-1,-0,abc"}),
        Probe(
            "if-modified-junk", headers={"If-Modified-Since": "yesterday", "If-None-Match": '"\xff'}
        ),
        Probe("https", environ={"wsgi.url_scheme": "https"}),
        Probe("no-csrf", csrf_header=False),
        Probe("csrf-junk", headers={"X-CSRFToken": "\xff" * 10}, csrf_header=False),
        Probe("csrf-huge", headers={"X-CSRFToken": "a" * 65536}, csrf_header=False),
    ]


#: form fields of each POST endpoint, with a plausible value for each
FORM_FIELDS: dict[str, dict[str, str]] = {
    "auth.login_post": {"username": "alice", "password": "wrong password, but long"},
    "auth.request_account": {
        "username": "erin",
        "display_name": "Erin",
        "email": "erin@example.org",
        "message": "please",
    },
    "auth.enroll": {"password": "a fine long password for carol", "confirm": "different"},
    "account.change_password": {
        "current_password": "wrong password, but long",
        "new_password": "another long password here",
    },
    "account.rename_credential": {"label": "renamed"},
    "admin.revoke_credential": {"reason": "fuzz"},
    "certs.upload": {
        "certificate_text": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "label": "x",
    },
    "certs.csr": {
        "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "label": "x",
    },
}
FILE_FIELDS = {"certs.upload": "certificate_file"}

BINARY_BLOBS: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("junk", b"\x00\xff" * 100),
    ("der-ish", b"\x30\x82\xff\xff" + b"\x00" * 64),
    ("der-deep", b"\x30\x80" * 5000),
    ("pem-bad-b64", b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
    ("pem-many", b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n" * 500),
    ("huge", b"A" * UNDER_LIMIT),
    ("pkcs12-ish", b"\x30\x82\x00\x10\x02\x01\x03" + b"\x00" * 16),
    (
        "csr-pem-junk",
        b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n",
    ),
    ("pem-other-type", b"-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n"),
]


def body_probes(endpoint: str, is_json: bool) -> list[Probe]:
    """Hostile bodies for one POST endpoint."""
    probes: list[Probe] = [Probe("no-body"), Probe("empty-form", data={}, csrf_field=True)]
    fields = FORM_FIELDS.get(endpoint, {"x": "y"})
    for name in fields:
        for what, value in STRINGS:
            probes.append(
                Probe(f"form:{name}={what}", data={**fields, name: value}, csrf_field=True)
            )
        probes.append(
            Probe(
                f"form:{name}=missing",
                data={k: v for k, v in fields.items() if k != name},
                csrf_field=True,
            )
        )
        probes.append(
            Probe(
                f"form:{name}=repeated",
                data=(
                    "&".join([f"{name}=a", f"{name}=b", f"{name}=", *(f"{k}=v" for k in fields)])
                ).encode(),
                content_type="application/x-www-form-urlencoded",
            )
        )
        for what, raw in RAW_VALUES:
            body = b"&".join(
                [
                    name.encode() + b"=" + raw,
                    *(f"{k}={v}".encode() for k, v in fields.items() if k != name),
                ]
            )
            probes.append(
                Probe(
                    f"raw:{name}={what}",
                    data=body,
                    content_type="application/x-www-form-urlencoded",
                )
            )
        # the same fields as multipart, with an invalid UTF-8 value
        probes.append(
            Probe(
                f"multipart-raw:{name}",
                data=(
                    b'--zzz\r\nContent-Disposition: form-data; name="'
                    + name.encode()
                    + b'"\r\n\r\n\xff\xfe\x00\r\n--zzz--\r\n'
                ),
                content_type="multipart/form-data; boundary=zzz",
            )
        )
    probes.append(
        Probe(
            "form-field-name-junk",
            data=b"%FF=1&%00=2&=3&&a[]=4",
            content_type="application/x-www-form-urlencoded",
        )
    )
    probes.append(
        Probe(
            "form-10k-fields",
            data="&".join(f"f{i}=1" for i in range(10000)).encode(),
            content_type="application/x-www-form-urlencoded",
        )
    )
    probes.append(
        Probe(
            "multipart-truncated",
            data=b'--zzz\r\nContent-Disposition: form-data; name="a"\r\n\r\nxx',
            content_type="multipart/form-data; boundary=zzz",
        )
    )
    probes.append(
        Probe("multipart-no-boundary", data=b"--zzz\r\n\r\n", content_type="multipart/form-data")
    )
    probes.append(
        Probe(
            "multipart-many-parts",
            data=b"".join(
                b'--zzz\r\nContent-Disposition: form-data; name="p%d"\r\n\r\nv\r\n' % i
                for i in range(3000)
            )
            + b"--zzz--\r\n",
            content_type="multipart/form-data; boundary=zzz",
        )
    )
    file_field = FILE_FIELDS.get(endpoint)
    if file_field:
        for what, blob in BINARY_BLOBS:
            probes.append(
                Probe(
                    f"file:{what}",
                    data={
                        **{k: v for k, v in fields.items() if k != "certificate_text"},
                        file_field: (__import__("io").BytesIO(blob), "c\xff\u202e.crt"),
                    },
                    content_type="multipart/form-data",
                    csrf_field=True,
                )
            )
        probes.append(
            Probe(
                "file-over-limit",
                data={file_field: (__import__("io").BytesIO(b"A" * OVER_LIMIT), "big.crt")},
                content_type="multipart/form-data",
                csrf_field=True,
            )
        )
    for name in fields:
        if name in {"certificate_text", "csr"}:
            for what, blob in BINARY_BLOBS:
                probes.append(
                    Probe(
                        f"text:{name}={what}",
                        data={**fields, name: blob.decode("latin-1")},
                        csrf_field=True,
                    )
                )
    for ct in CONTENT_TYPES:
        probes.append(Probe(f"ctype:{ct[:30]}:json", data=b'{"kind": "passkey"}', content_type=ct))
        probes.append(Probe(f"ctype:{ct[:30]}:form", data=b"a=1&label=x", content_type=ct))
    # the form's own fields as JSON (Flask-WTF reads a JSON body as form data), wrong types
    for name in fields:
        for what, value in [
            ("int", 1),
            ("null", None),
            ("list", ["a", "b"]),
            ("empty-list", []),
            ("dict", {"a": 1}),
            ("bool", False),
            ("float", 1e308),
            ("surrogate", "\udc00x"),
            ("nul", "a\x00b"),
            ("long", "x" * 5000),
        ]:
            probes.append(
                Probe(
                    f"json-form:{name}={what}",
                    data=json.dumps({**fields, name: value}).encode(),
                    content_type="application/json",
                )
            )
    for what, body in JSON_BODIES if is_json else JSON_BODIES[:25]:
        probes.append(Probe(f"json:{what}", data=body, content_type="application/json"))
    return probes


# -- routes and their concrete paths -------------------------------------------------------------

INT_SEGMENTS = [
    "0",
    "1",
    "-1",
    "2147483647",
    str(BIG),
    str(2**63),
    "9" * 40,
    "9" * 5000,
    "1.5",
    "abc",
    "%00",
    "%FF",
    "%EF%BC%91",
    "%D9%A1",
    "+1",
    "0x1",
    "01",
    "1%20",
]
TOKEN_SEGMENTS = [
    "x",
    "%00",
    "%FF%FE",
    "a" * 129,
    "a" * 20000,
    "..",
    "%2e%2e",
    "%2F",
    "%E2%80%AE",
    "%CC%81" * 100,
    "%EF%BC%A1",
    "%ED%A0%80",
    "%C0%80",
    "a%20b",
]
ANY_SEGMENTS = ["APPROVE", "approve%00", "%FF", "disable%20", "enable/..", "x"]
STATIC_SEGMENTS = [
    "css/site.css",
    "../app/__init__.py",
    "%2e%2e/app/__init__.py",
    "a%00b",
    "%FF",
    "..%5c..%5capp",
    "/etc/passwd",
    "x" * 5000,
    "%C0%AE%C0%AE/x",
    ".",
]


def valid_values(world: World, role: str) -> dict[str, str]:
    owner = world.bob if role == "admin" else world.alice
    cred = world.bob_passkey_id if role == "admin" else world.alice_password_id
    return {
        "user_id": str(owner.id),
        "credential_id": str(cred),
        "session_id": "1",
        "request_id": str(world.request_id),
        "decision": "reject",
        "action": "enable",
        "token": world.enrol_token,
        "filename": "css/site.css",
        "token_id": "1",
    }


def build(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1)], rule)


def path_variants(rule: str, world: World, role: str) -> list[str]:
    base = valid_values(world, role)
    paths = []
    for arg in re.findall(r"<(?:([^:<>]+):)?([^<>]+)>", rule):
        conv, name = arg
        conv = conv.split("(")[0]
        segments = {"int": INT_SEGMENTS, "any": ANY_SEGMENTS, "path": STATIC_SEGMENTS}.get(
            conv, TOKEN_SEGMENTS
        )
        paths += [build(rule, {**base, name: s}) for s in segments]
    return paths


METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE", "FOO"]
JSON_ENDPOINTS = {
    "webauthn.enrol_options",
    "webauthn.enrol_verify",
    "webauthn.login_options",
    "webauthn.login_verify",
    "webauthn.register_options",
    "webauthn.register_verify",
}


def rules(app: Flask) -> list[tuple[str, str, frozenset[str]]]:
    grouped: dict[str, tuple[str, set[str]]] = {}
    for r in app.url_map.iter_rules():
        key = r.rule
        endpoint, methods = grouped.get(key, (r.endpoint, set()))
        methods |= set(r.methods or ())
        # /login has two endpoints: remember the POST one for the body probes
        if "POST" in (r.methods or ()):
            endpoint = r.endpoint
        grouped[key] = (endpoint, methods)
    return sorted((rule, ep, frozenset(m)) for rule, (ep, m) in grouped.items())


ROUTES = [  # kept in step with app.url_map by test_the_fuzz_knows_every_route
    "/",
    "/.keystile/handoff",
    "/.well-known/jwks.json",
    "/account",
    "/account/credentials/<int:credential_id>/remove",
    "/account/devices/<int:token_id>/forget",
    "/account/credentials/<int:credential_id>/rename",
    "/account/notices/read",
    "/account/password",
    "/account/password/add",
    "/account/sessions/<int:session_id>/end",
    "/account/sessions/end-all",
    "/admin/",
    "/admin/audit",
    "/admin/audit/export",
    "/admin/requests",
    "/admin/requests/<int:request_id>/<any(approve, reject):decision>",
    "/admin/users",
    "/admin/users/<int:user_id>",
    "/admin/users/<int:user_id>/<any(disable, enable):action>",
    "/admin/users/<int:user_id>/enrolment-link",
    "/admin/users/<int:user_id>/groups/<any(add, remove):action>",
    "/admin/users/<int:user_id>/credentials/<int:credential_id>/revoke",
    "/admin/users/<int:user_id>/sessions/<int:session_id>/end",
    "/admin/users/<int:user_id>/sessions/end-all",
    "/api/authz/auth-request",
    "/api/authz/forward-auth",
    "/api/session",
    "/certificate/complete",
    "/certificate/csr",
    "/certificate/login",
    "/certificate/pin-presented",
    "/certificate/start",
    "/certificate/upload",
    "/enroll/<token>",
    "/gate/continue",
    "/healthz",
    "/login",
    "/logout",
    "/readyz",
    "/request-account",
    "/static/<path:filename>",
    "/webauthn/enrol/<token>/options",
    "/webauthn/enrol/<token>/verify",
    "/webauthn/login/options",
    "/webauthn/login/verify",
    "/webauthn/register/options",
    "/webauthn/register/verify",
    "/webauthn/signal-state",
]
ROLES = ["anon", "user", "admin"]
#: by design: /readyz, whose test schema records no migration
ALLOWED_5XX = {("/readyz", 503)}


def test_the_fuzz_knows_every_route(app: Flask) -> None:
    assert sorted(r for r, _, _ in rules(app)) == sorted(ROUTES)


# -- the request loop ------------------------------------------------------------------------------


def send(
    actor: Actor, ledger: Ledger, capture: _Capture, method: str, path: str, probe: Probe, rule: str
) -> Any:
    """One fuzzed request; a 5xx or an exception is recorded with its traceback."""
    headers = dict(probe.headers)
    if probe.csrf_header and actor.token:
        headers["X-CSRFToken"] = actor.token
    data = probe.data
    if probe.csrf_field and isinstance(data, dict):
        data = {**data, "csrf_token": actor.token}
    url = path + ("?" + probe.query if probe.query else "")
    kwargs: dict[str, Any] = {"method": method, "headers": headers, "buffered": True}
    if data is not None:
        kwargs["data"] = data
    if probe.content_type is not None:
        kwargs["content_type"] = probe.content_type
    if probe.environ:
        kwargs["environ_overrides"] = dict(probe.environ)
    ledger.count += 1
    capture.take()
    try:
        resp = actor.client.open(url, **kwargs)
        status: int | str = resp.status_code
        trace = capture.take()
        body = resp.get_data()
    except Exception as exc:  # noqa: BLE001 - every escape is a finding
        status, trace, body = f"exception {type(exc).__name__}", traceback.format_exc(), b""
        resp = None
    bad = not isinstance(status, int) or (status >= 500 and (rule, status) not in ALLOWED_5XX)
    if not bad and b"Traceback (most recent call last)" in body:
        bad, trace = True, body.decode("utf-8", "replace")
    if bad:
        ledger.failures.append(
            Failure(
                actor.role,
                method,
                url,
                probe.what,
                status,
                {
                    "headers": headers,
                    "data": data
                    if not isinstance(data, bytes) or len(data) < 400
                    else data[:400] + b"...",
                    "content_type": probe.content_type,
                    "environ_overrides": probe.environ,
                },
                trace or "(no server traceback logged)",
            )
        )
    return resp


def share(items: list[Any], part: int, parts: int) -> list[Any]:
    """The ``part``-th of ``parts`` interleaved shares of ``items``: the shares together send
    every item once, so the roles of one route split its probes instead of each sending all."""
    return [item for i, item in enumerate(items) if i % parts == part]


def fuzz_route(
    world: World,
    role: str,
    rule: str,
    endpoint: str,
    allowed: frozenset[str],
    ledger: Ledger,
    capture: _Capture,
    *,
    part: int = 0,
    parts: int = 1,
    bodies: tuple[int, int] = (0, 1),
) -> None:
    actor = Actor(world, role)
    actor.ensure()
    mutating = {"POST", "PUT", "PATCH", "DELETE"}

    def go(method: str, p: str | None, probe: Probe) -> None:
        if "<token>" in rule:
            world.refresh_enrolment()
        if p is None:
            p = build(rule, valid_values(world, role))
        resp = send(actor, ledger, capture, method, p, probe, rule)
        if method in mutating or rule in {"/certificate/complete", "/enroll/<token>"}:
            if (
                resp is not None
                and resp.status_code == 400
                and (b"csrf" in resp.get_data() or b"form expired" in resp.get_data())
            ):
                actor.refresh_token()
            actor.ensure()

    for method in METHODS:
        if method not in allowed:
            go(method, None, Probe(f"method-{method}"))
            continue
        for q in share(QUERIES, part, parts):
            go(method, None, Probe(f"query:{q[:40]}", query=q))
        for probe in share(list(header_probes()), part, parts):
            go(method, None, probe)
        for p in path_variants(rule, world, role):
            go(method, p, Probe("path"))
        if method == "POST":
            for probe in share(list(body_probes(endpoint, endpoint in JSON_ENDPOINTS)), *bodies):
                go(method, None, probe)


#: On SQLite every role; on PostgreSQL (when configured) the admin, who reaches every view,
#: with a quarter of the probes (and every path variant), so that values the database refuses
#: (NUL, out-of-range integers) meet it too without running the whole table twice.
ROUTE_CASES = [
    pytest.param(rule, role, "sqlite", id=f"sqlite-{rule}-{role}")
    for rule in ROUTES
    for role in ROLES
] + [
    pytest.param(rule, "admin", backend, id=f"{backend}-{rule}-admin")
    for backend in BACKENDS
    if backend != "sqlite"
    for rule in ROUTES
]


@pytest.mark.parametrize(("rule", "role", "database_url"), ROUTE_CASES, indirect=["database_url"])
def test_fuzz_route(
    app: Flask, world: World, capture: _Capture, role: str, rule: str, database_url: str
) -> None:
    table = {r: (ep, m) for r, ep, m in rules(app)}
    endpoint, allowed = table[rule]
    ledger = Ledger()
    if database_url.startswith("sqlite"):
        # Queries and headers mostly meet the request plumbing, which every role shares, so
        # the roles split them; bodies reach each role's own views, so each sends them all.
        part, parts, bodies = ROLES.index(role), len(ROLES), (0, 1)
    else:
        quarter = sum(map(ord, rule)) % 4  # which quarter: fixed per route
        part, parts, bodies = quarter, 4, (quarter, 4)
    fuzz_route(
        world, role, rule, endpoint, allowed, ledger, capture, part=part, parts=parts, bodies=bodies
    )
    print(f"{rule} [{role}]: {ledger.count} requests")
    ledger.check()


UNROUTED = [
    "/%FF",
    "/%00",
    "/admin/users/%00",
    "/" + "a" * 100_000,
    "/%2e%2e/%2e%2e/etc/passwd",
    "//evil.example",
    "/login/",
    "/login%00",
    "/admin",
    "/account/",
    "/webauthn/",
    "/webauthn/nothing",
    "/api/nothing",
    "/%E2%80%AE",
    "/static/",
    "/static",
]


@pytest.mark.parametrize("role", ROLES)
def test_fuzz_unrouted_paths(world: World, capture: _Capture, role: str) -> None:
    actor, ledger = Actor(world, role), Ledger()
    actor.ensure()
    for path in UNROUTED:
        for method in METHODS:
            send(actor, ledger, capture, method, path, Probe("unrouted"), path)
            send(
                actor,
                ledger,
                capture,
                method,
                path,
                Probe(
                    "unrouted-json",
                    headers={"Accept": "application/json"},
                    data=b"{",
                    content_type="application/json",
                ),
                path,
            )
    ledger.check()


# -- certificate headers from a trusted proxy, every format ----------------------------------------

CERT_HEADER_VALUES = [
    "",
    " ",
    "garbage",
    "-",
    "(null)",
    "%",
    "%ZZ",
    ":",
    "::",
    ":AAAA:",
    ":!!!:",
    "=?",
    "-----BEGIN CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----%0A!!!%0A-----END CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----\tMA==\t-----END CERTIFICATE-----",
    "MA==",
    "AAAA" * 4000,
    "A" * 70000,
    "\u202e",
    ":" + "A" * 60000 + ":",
    'Hash=abc;Cert="%ZZ";Chain="x"',
    'Cert="' + "%41" * 1000 + '"',
    'By=x;Hash=y;Subject="\\"";URI=,Cert=',
    ";;;,,,",
    '"unterminated',
    'Cert="-----BEGIN CERTIFICATE-----%0AMA%3D%3D%0A-----END CERTIFICATE-----"',
    "MIIB" + "/" * 100,
    ":MIIB:, :x:",
    "308201",
    "30820001" + "00" * 10,
]
ENVIRON_VALUES = ["\xff\xfe", "a\x00b"]


def on_backends(values: list[str], on_postgresql: list[str]) -> list[Any]:
    """Every value on SQLite; on PostgreSQL (when configured) the ones named, enough for the
    database to meet what reaches it (audit details, lookups) without a second full table."""
    return [pytest.param(v, "sqlite", id=f"sqlite-{v}") for v in values] + [
        pytest.param(v, b, id=f"{b}-{v}") for b in BACKENDS if b != "sqlite" for v in on_postgresql
    ]


@pytest.mark.parametrize(
    ("fmt", "database_url"),
    on_backends(
        ["nginx", "apache", "haproxy", "caddy", "envoy", "traefik", "aws-alb", "rfc9440"],
        ["nginx", "envoy", "rfc9440"],
    ),
    indirect=["database_url"],
)
def test_fuzz_certificate_headers(
    database_url: str, tmp_path: Path, capture: _Capture, fmt: str
) -> None:
    from app.proxy import _ADAPTERS
    from tests.conftest import make_app

    app = make_app(
        database_url,
        tmp_path,
        trusted_proxies=PROXY,
        cert_header_format=fmt,
        cert_login="auto",
        login_limit_per_address=LIMIT,
    )
    from app.db import EXTENSION

    db = app.extensions[EXTENSION]()
    make_user(db, app, "alice")
    adapter = _ADAPTERS[fmt]
    names = [adapter.default_certificate_header, *dict(adapter.companion_headers)]
    ledger = Ledger()
    world = World(app, db, *[db.get(User, 1)] * 4)  # type: ignore[list-item]
    actors = [Actor(world, "anon"), Actor(world, "user")]
    for actor in actors:
        actor.ensure()
    targets = [
        ("GET", "/login"),
        ("POST", "/certificate/login"),
        ("GET", "/account"),
        ("POST", "/certificate/pin-presented"),
        ("GET", "/certificate/start"),
    ]
    for actor in actors:
        for method, path in targets:
            for name in names:
                for value in CERT_HEADER_VALUES:
                    send(
                        actor,
                        ledger,
                        capture,
                        method,
                        path,
                        Probe(
                            f"{name}={value[:20]}",
                            headers={name: value},
                            environ={"REMOTE_ADDR": PROXY},
                        ),
                        path,
                    )
                    actor.ensure()
                for value in ENVIRON_VALUES:
                    env_name = "HTTP_" + name.upper().replace("-", "_")
                    send(
                        actor,
                        ledger,
                        capture,
                        method,
                        path,
                        Probe(f"{name}=env", environ={"REMOTE_ADDR": PROXY, env_name: value}),
                        path,
                    )
                    actor.ensure()
            # every header at once, garbage in each
            send(
                actor,
                ledger,
                capture,
                method,
                path,
                Probe(
                    "all-headers", headers={n: "x" for n in names}, environ={"REMOTE_ADDR": PROXY}
                ),
                path,
            )
            actor.ensure()
    db.close()
    ledger.check()


# -- passkeys with a real pending challenge: the deep paths of the verify endpoints ------------


def _mutations(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Variants of a genuine browser response, keeping its challenge so the service runs."""
    resp = body["response"]
    cdata = json.loads(unb64url(resp["clientDataJSON"]))
    junk_values: list[Any] = [
        None,
        1,
        -1,
        10**30,
        1.5,
        True,
        [],
        {},
        "",
        "!!",
        "A",
        "AA=",
        "A" * 100_000,
        ["a"],
        {"a": 1},
    ]
    for key in list(resp):
        for j, value in enumerate(junk_values):
            yield f"response.{key}#{j}", {**body, "response": {**resp, key: value}}
        yield (
            f"response.{key}-deleted",
            {**body, "response": {k: v for k, v in resp.items() if k != key}},
        )
    for key in ("authenticatorAttachment", "clientExtensionResults", "transports", "label"):
        for j, value in enumerate(junk_values[:12]):
            yield f"{key}#{j}", {**body, key: value}
    for key, values in {
        "type": [None, 1, "webauthn.create", "webauthn.get", "", "x" * 10000],
        "origin": [
            None,
            1,
            [],
            "null",
            "https://localhost:99999",
            "https://[::1",
            "\u202ehttps://localhost",
            "https://LOCALHOST",
            "x" * 10000,
        ],
        "crossOrigin": [None, "true", 1, True, []],
        "topOrigin": [None, 1, "https://evil.example", []],
        "tokenBinding": [None, 1, "x", {"status": "present"}, {"status": 1}, []],
    }.items():
        for j, value in enumerate(values):
            data = {**cdata, key: value}
            yield (
                f"clientData.{key}#{j}",
                {**body, "response": {**resp, "clientDataJSON": b64url(json.dumps(data).encode())}},
            )
    for what, raw in [
        ("not-json", b"\xff"),
        ("list", b"[]"),
        ("nested", b"[" * 50_000),
        ("nan", json.dumps({**cdata, "x": float("nan")}).encode()),
        ("dup", b'{"challenge":"' + cdata["challenge"].encode() + b'","challenge":1}'),
    ]:
        yield f"clientData={what}", {**body, "response": {**resp, "clientDataJSON": b64url(raw)}}
    # authenticator data and attestation objects: truncated, extended, CBOR junk
    for key in ("authenticatorData", "attestationObject", "signature", "publicKey"):
        if key not in resp or not isinstance(resp[key], str):
            continue
        raw = unb64url(resp[key])
        variants = {
            "truncated": raw[: len(raw) // 2],
            "one-byte": raw[:1],
            "extended": raw + b"\x00" * 100,
            "flipped": bytes([raw[0] ^ 0xFF]) + raw[1:],
            "flags-all": raw[:32] + b"\xff" + raw[33:] if len(raw) > 33 else raw,
            "cbor-junk": cbor2.dumps({"fmt": 1, "attStmt": [], "authData": "x"}),
            "cbor-deep": b"\x81" * 20000 + b"\x00",
            "cbor-tag": b"\xd9\xd9\xf7\xa0",
            "cbor-huge-len": b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",
            "cbor-indef": b"\xbf\x63fmt\x64none" + b"\xff",
        }
        if key == "attestationObject":
            att = cbor2.loads(raw)
            for fmt in [
                "packed",
                "tpm",
                "android-key",
                "android-safetynet",
                "fido-u2f",
                "apple",
                "none",
                "bogus",
                "",
            ]:
                variants[f"fmt-{fmt}"] = cbor2.dumps({**att, "fmt": fmt})
                variants[f"fmt-{fmt}-stmt"] = cbor2.dumps(
                    {
                        **att,
                        "fmt": fmt,
                        "attStmt": {
                            "alg": -7,
                            "sig": b"x",
                            "x5c": [b"\x30\x00", b"junk"],
                            "ver": "2.0",
                            "response": b"x.y.z",
                            "certInfo": b"x",
                            "pubArea": b"x",
                        },
                    }
                )
            variants["authData-str"] = cbor2.dumps({**att, "authData": "x"})
            variants["authData-short"] = cbor2.dumps({**att, "authData": att["authData"][:37]})
            ad = att["authData"]
            # the attested credential data: a credential id length beyond the data,
            # and a COSE key that is not a map / has odd parameters
            variants["cred-len-huge"] = cbor2.dumps(
                {**att, "authData": ad[:53] + b"\xff\xff" + ad[55:]}
            )
            cid_len = int.from_bytes(ad[53:55], "big")
            head = ad[: 55 + cid_len]
            for name, cose in [
                ("list", [1, 2]),
                ("empty", {}),
                ("kty-str", {1: "EC2"}),
                ("alg-big", {1: 2, 3: 10**20, -1: 1, -2: b"x", -3: b"y"}),
                ("crv-bad", {1: 2, 3: -7, -1: 99, -2: b"x" * 32, -3: b"y" * 32}),
                ("rsa-bad", {1: 3, 3: -257, -1: b"", -2: b"\x00"}),
                ("okp-bad", {1: 1, 3: -8, -1: 6, -2: b"short"}),
                ("x-not-bytes", {1: 2, 3: -7, -1: 1, -2: 5, -3: None}),
            ]:
                variants[f"cose-{name}"] = cbor2.dumps(
                    {**att, "authData": head + cbor2.dumps(cose)}
                )
        for what, value in variants.items():
            yield f"{key}={what}", {**body, "response": {**resp, key: b64url(value)}}


@pytest.mark.parametrize(
    ("ceremony", "database_url"),
    on_backends(["login", "register", "enrol"], ["login"]),
    indirect=["database_url"],
)
def test_fuzz_passkey_responses_with_a_live_challenge(
    world: World, capture: _Capture, ceremony: str
) -> None:
    from tests.support.browser import ORIGIN, Browser

    ledger = Ledger()
    app = world.app
    # erin (a password only) registers a real passkey, for assertions to mutate
    make_user(world.db, app, "erin")
    erin = Browser(app.test_client(), SoftAuthenticator(origin=ORIGIN, rp_id="localhost"))
    erin.password_login("erin")
    resp, credential = erin.register()
    assert resp.status_code == 201, resp.get_json()
    browser = Browser(app.test_client(), SoftAuthenticator(origin=ORIGIN, rp_id="localhost"))
    if ceremony == "register":
        browser.password_login("alice")
    count = 0
    codes: Counter[tuple[int, Any]] = Counter()
    sample = _sample(browser, world, ceremony, credential)
    total = sum(1 for _ in _mutations(sample))
    for i in range(total):
        # a fresh response every round (its own challenge and, when registering, its own
        # credential id), mutated the i-th way
        body = _sample(browser, world, ceremony, credential)
        what, mutated = next(itertools.islice(_mutations(body), i, None))
        count += 1
        target = {
            "login": "/webauthn/login/verify",
            "register": "/webauthn/register/verify",
            "enrol": f"/webauthn/enrol/{world.enrol_token}/verify",
        }[ceremony]
        actor = _BrowserActor(browser)
        answer = send(
            actor,
            ledger,
            capture,
            "POST",
            target,
            Probe(
                what,
                data=json.dumps(mutated).encode(),
                content_type="application/json",
                csrf_header=True,
            ),
            target,
        )
        if answer is not None:
            codes[(answer.status_code, (answer.get_json(silent=True) or {}).get("error"))] += 1
    print(ceremony, count, sorted(codes.items(), key=lambda kv: -kv[1]))
    assert count > 100
    ledger.check()


class _BrowserActor:
    role = "passkey"

    def __init__(self, browser: Any) -> None:
        self.client = browser.client
        self.token = browser.csrf()


def _sample(browser: Any, world: World, ceremony: str, credential: Any) -> dict[str, Any]:
    if ceremony == "login":
        return browser.assertion(credential)  # type: ignore[no-any-return]
    if ceremony == "register":
        resp = browser.post("/webauthn/register/options", {"kind": "passkey"})
        if resp.status_code != 200:
            # a mutation was accepted (the account now holds a passkey): a new account
            _sample.n = getattr(_sample, "n", 0) + 1  # type: ignore[attr-defined]
            name = f"fuzz{_sample.n}"  # type: ignore[attr-defined]
            make_user(world.db, world.app, name)
            browser.client = world.app.test_client()
            browser.password_login(name)
            resp = browser.post("/webauthn/register/options", {"kind": "passkey"})
        assert resp.status_code == 200, resp.get_json()
        options = resp.get_json()
    else:
        world.refresh_enrolment()
        options = browser.creation_options("passkey", f"/webauthn/enrol/{world.enrol_token}")
    body, _ = browser.authenticator.register(
        challenge=unb64url(options["challenge"]), user_handle=unb64url(options["user"]["id"])
    )
    return body  # type: ignore[no-any-return]


# -- the CLI: bad arguments exit non-zero with a message, never a traceback ------------------------

CLI_CASES: list[list[str]] = [
    ["nosuchcommand"],
    ["user"],
    ["user", "create"],
    ["user", "create", ""],
    ["user", "create", "a\x00b"],
    ["user", "create", "x" * 10000],
    ["user", "create", "\u202e"],
    ["user", "create", "alice"],
    ["user", "create", "newbie", "--email", "not-an-email"],
    ["user", "create", "newbie2", "--email", "x" * 10000],
    ["user", "create", "newbie3", "--password-stdin"],
    ["user", "list", "--json", "extra"],
    ["user", "list", "--bogus"],
    ["request", "approve"],
    ["request", "approve", "abc"],
    ["request", "approve", "999"],
    ["request", "approve", "0"],
    ["request", "approve", "--", "-1"],
    ["request", "approve", str(2**31)],
    ["request", "approve", str(2**63)],
    ["request", "approve", "9" * 40],
    ["request", "reject", "9" * 40],
    ["request", "reject", str(2**63)],
    ["request", "reject", "1.5"],
    ["db", "upgrade", "nosuchrevision"],
    ["db", "upgrade", "-1"],
    ["db", "upgrade", "base+99"],
    ["ca", "issue", "nobody", "--p12", "x.p12"],
    ["ca", "issue", "alice"],
    ["ca", "issue", "alice", "--p12", "/nonexistent/dir/x.p12"],
    ["ca", "issue", "alice", "--p12", "a.p12", "--days", "0"],
    ["ca", "issue", "alice", "--p12", "a.p12", "--days", "-5"],
    ["ca", "issue", "alice", "--p12", "a.p12", "--days", "99999999999"],
    ["ca", "issue", "alice", "--p12", "a.p12", "--days", "abc"],
    ["ca", "crl", "--days", "0"],
    ["ca", "crl", "--days", "-1"],
    ["ca", "crl", "--days", "99999999999"],
    ["ca", "crl", "--out", "/nonexistent/dir/crl.pem"],
    ["ca", "init"],
    ["ca", "init", "--name", ""],
    ["cert", "pin", "alice", "/nonexistent"],
    ["cert", "pin", "nobody", "/dev/null"],
    ["cert", "pin", "alice", "/dev/null"],
    ["cert", "pin", "alice", "{junk}"],
    ["cert", "pin", "alice", "/"],
    ["cert", "list", "nobody"],
    ["cert", "revoke", ""],
    ["cert", "revoke", "zz"],
    ["cert", "revoke", "\x00"],
    ["passkey", "list", "nobody"],
    ["passkey", "list", ""],
    ["passkey", "list", "a\x00"],
    ["audit", "export", "--since", "9999-99-99"],
    ["audit", "export", "--until", "9999-12-31"],
    ["audit", "export", "--since", "x"],
    ["audit", "export", "--format", "xml"],
    ["audit", "export", "--user", "nobody"],
    ["audit", "export", "--outcome", "maybe"],
    ["audit", "export", "--since", "0001-01-01T00:00+05:00"],
    ["proxy-config"],
    ["proxy-config", "bogus"],
    [
        "proxy-config",
        "nginx",
        "--listen",
        "x",
        "--upstream",
        "y",
        "--tls-cert",
        "c",
        "--tls-key",
        "k",
    ],
    [
        "proxy-config",
        "nginx",
        "--listen",
        "0.0.0.0:99999",
        "--upstream",
        "127.0.0.1:-1",
        "--tls-cert",
        "/nonexistent",
        "--tls-key",
        "/nonexistent",
    ],
    [
        "proxy-config",
        "haproxy",
        "--listen",
        "[::1",
        "--upstream",
        "unix:",
        "--tls-cert",
        "a\x00",
        "--tls-key",
        "b",
        "--mode",
        "explicit",
    ],
    [
        "proxy-config",
        "apache",
        "--listen",
        ":443",
        "--upstream",
        "127.0.0.1:8000",
        "--tls-cert",
        "c",
        "--tls-key",
        "k",
        "--mode",
        "explicit",
        "--cert-host",
        "bad host",
    ],
    [
        "proxy-config",
        "caddy",
        "--listen",
        "0.0.0.0:443",
        "--upstream",
        "127.0.0.1:8000",
        "--tls-cert",
        "c\nx",
        "--tls-key",
        "k",
        "--prefix",
        "relative\x00",
    ],
    # (never a port a server could bind: glibc maps 70000 to 4464 and the server would run)
    ["dev", "serve", "--https-port", "-1", "--http-port", "-2"],
    ["dev", "serve", "--host", "no such host..", "--https-port", "-1"],
    ["report", "credentials", "--bogus"],
    ["report", "bogus"],
]


def test_fuzz_cli(
    app: Flask, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = app.test_cli_runner()
    failures = []
    for args in CLI_CASES:
        result = runner.invoke(args=args, input="short\n")
        exc = result.exception
        crashed = exc is not None and not isinstance(exc, SystemExit)
        silent = result.exit_code != 0 and not result.output.strip()
        if crashed or result.exit_code == 0 or silent or "Traceback" in result.output:
            trace = (
                "".join(traceback.format_exception(*result.exc_info))
                if crashed and result.exc_info
                else ""
            )
            failures.append(
                f"keystile {' '.join(map(repr, args))} -> exit {result.exit_code}, "
                f"output {result.output.strip()[-200:]!r}\n"
                + "\n".join(trace.strip().splitlines()[-4:])
            )
    assert not failures, f"{len(failures)} of {len(CLI_CASES)} CLI cases failed:\n" + "\n".join(
        failures
    )

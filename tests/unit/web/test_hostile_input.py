"""Property tests: every parser that reads a return URL or a header value a client sent.

Whatever the text, no exception escapes and what comes out is safe to use: a return path
stays on this site, an address is an address (or the peer as it was), a request id and a
user agent fit their columns, a browser summary is short and printable, a proxy adapter
answers None, a certificate or ``ProxyHeaderError`` and nothing else.
"""

from __future__ import annotations

import ipaddress
import typing
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.urls import iri_to_uri

from app.config import TrustedPeers
from app.proxy import FORMATS, ForwardedCertificate, ProxyHeaderError, get_adapter
from app.proxy.base import ErrorCode
from app.services import tokens
from app.web.client import (
    address_of,
    raw_peer_of,
    request_id_of,
    throttle_key_of,
    user_agent_of,
)
from app.web.cookie_session import CookieSessions
from app.web.proxy_scheme import TrustedProxyScheme
from app.web.redirects import safe_next
from app.web.wording import browser_summary, reason_text
from tests.support.properties import ADDRESS_LIKE, PROPERTIES, URL_LIKE

ORIGIN = "https://login.example.org/"
DEFAULT = "/account"
TRUSTED = TrustedPeers(
    (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")), unix_socket=True
)
ANY_TEXT = st.one_of(st.text(), URL_LIKE)


# -- return URLs -------------------------------------------------------------------------------


@PROPERTIES
@given(ANY_TEXT)
@example("https://evil.test\uff0fapp/")  # issue 17: urlsplit's ValueError escaped as a 500
@example("//[evil.test")
@example("/\t/evil.test")
@example("/\ud800")
def test_safe_next_keeps_the_browser_on_this_site(target: str) -> None:
    out = safe_next(target, DEFAULT)
    if out == DEFAULT:
        return
    assert out == target
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out
    # What the browser is sent (Werkzeug encodes the IRI) resolves to this origin.
    location = iri_to_uri(out)
    resolved = urlsplit(urljoin(ORIGIN, location))
    assert (resolved.scheme, resolved.netloc) == ("https", "login.example.org")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.test\uff0fapp/",
        "https://evil.test%EF%BC%8Fapp/",
        "//evil.test\uff0fapp/",
        "http://[evil.test/",
        "//[::1",
        "/\t/evil.test",
        "/\n/evil.test",
        "/\x7f",
        "/\u202e/x",
        "/\ud800",
        "",
        None,
        "/" + "a" * 2001,
    ],
    ids=[
        "fullwidth-solidus",
        "fullwidth-solidus-encoded",
        "scheme-relative-fullwidth",
        "unclosed-ipv6",
        "scheme-relative-ipv6",
        "tab",
        "newline",
        "del",
        "bidi-override",
        "lone-surrogate",
        "empty",
        "none",
        "too-long",
    ],
)
def test_safe_next_refuses(target: str | None) -> None:
    assert safe_next(target, DEFAULT) == DEFAULT


@pytest.mark.parametrize(
    "target", ["/account", "/admin/users/3?tab=keys", "/a%2F%2Fb", "/caf%C3%A9"]
)
def test_safe_next_keeps_paths_of_this_site(target: str) -> None:
    assert safe_next(target, DEFAULT) == target


@pytest.mark.parametrize("target", ["/caf\u00e9", "/\uff0fpath"])
def test_safe_next_keeps_no_raw_non_ascii(target: str) -> None:
    """Keystile's own URLs are ASCII (url_for percent-encodes); a raw non-ASCII return path
    is only ever a look-alike trick, so it falls back rather than being judged."""
    assert safe_next(target, DEFAULT) == DEFAULT


# -- addresses and headers ---------------------------------------------------------------------


@PROPERTIES
@given(
    peer=st.one_of(ADDRESS_LIKE, st.sampled_from(["10.1.2.3", "::1", ""])),
    forwarded=st.one_of(ADDRESS_LIKE, st.text()),
)
def test_address_of_is_the_peer_or_an_address(peer: str, forwarded: str) -> None:
    out = address_of(peer, forwarded, TRUSTED)
    if out != peer:
        assert TRUSTED.trust(peer)
        assert str(ipaddress.ip_address(out)) == out


@PROPERTIES
@given(st.one_of(ADDRESS_LIKE, st.text()))
def test_trusted_peers_judge_any_peer(peer: str) -> None:
    assert TRUSTED.trust(peer) in {True, False}


@PROPERTIES
@given(st.one_of(ADDRESS_LIKE, st.text(), st.ip_addresses().map(str)))
def test_throttle_key_of_never_raises(address: str) -> None:
    key = throttle_key_of(address)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        assert key == address
        return
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        network = ipaddress.ip_network(key)
        assert network.prefixlen == 64 and ip in network
    else:
        assert ipaddress.ip_address(key).version == 4 or key == str(ip)


@PROPERTIES
@given(incoming=st.text(), trusted=st.booleans())
def test_request_id_is_short_and_printable(incoming: str, trusted: bool) -> None:
    out = request_id_of(incoming, from_trusted_proxy=trusted)
    assert 0 < len(out) <= 64 and out.isprintable()
    if not trusted:
        assert len(out) == 16 and int(out, 16) >= 0


@PROPERTIES
@given(st.text())
def test_user_agent_fits_its_column(header: str) -> None:
    out = user_agent_of(header)
    assert "\x00" not in out and len(out) <= 512


@PROPERTIES
@given(
    remote=st.one_of(st.none(), st.text()),
    orig=st.one_of(
        st.none(), st.dictionaries(st.just("REMOTE_ADDR"), st.one_of(st.none(), st.text()))
    ),
)
def test_raw_peer_of_any_environ(remote: str | None, orig: dict[str, str | None] | None) -> None:
    """What the app server and ProxyFix put in the environ (``orig`` is ProxyFix's dict)."""
    environ: dict[str, typing.Any] = {"REMOTE_ADDR": remote}
    if orig is not None:
        environ["werkzeug.proxy_fix.orig"] = orig
    assert isinstance(raw_peer_of(environ), str)


@PROPERTIES
@given(
    proto=st.one_of(st.text(), st.sampled_from(["https", "HTTP, https", "https,", ","])),
    peer=st.sampled_from(["10.0.0.1", "192.0.2.1", "", "not-an-address"]),
)
def test_forwarded_scheme_only_http_or_https(proto: str, peer: str) -> None:
    seen: dict[str, str] = {}

    def app(environ: dict[str, typing.Any], start_response: typing.Any) -> list[bytes]:
        seen["scheme"] = environ["wsgi.url_scheme"]
        return []

    TrustedProxyScheme(app, TRUSTED)(
        {"wsgi.url_scheme": "http", "REMOTE_ADDR": peer, "HTTP_X_FORWARDED_PROTO": proto},
        lambda *a: None,
    )
    assert seen["scheme"] in {"http", "https"}
    if not TRUSTED.trust(peer):
        assert seen["scheme"] == "http"


# -- words for the account page ----------------------------------------------------------------


@PROPERTIES
@given(st.one_of(st.none(), st.text()))
def test_browser_summary_is_short(agent: str | None) -> None:
    out = browser_summary(agent)
    assert 0 < len(out) <= 40
    assert out.isprintable() and out.isascii()


@PROPERTIES
@given(st.one_of(st.none(), st.text()))
def test_reason_text_never_raises(code: str | None) -> None:
    assert isinstance(reason_text(code), str)


# -- cookies -----------------------------------------------------------------------------------


@PROPERTIES
@given(st.text())
def test_session_token_digest_of_any_cookie(secret: str) -> None:
    digest = tokens.digest(secret)
    assert len(digest) == 64 and int(digest, 16) >= 0


_COOKIE_APP = Flask(__name__)
_COOKIE_APP.secret_key = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
_COOKIE_APP.config["SESSION_COOKIE_NAME"] = "__Host-keystile"
_COOKIE_APP.session_interface = CookieSessions()


@PROPERTIES
@given(st.text(alphabet=st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=300))
def test_cookie_session_of_any_cookie_is_empty(value: str) -> None:
    """A forged or mangled cookie session opens empty; it never raises."""
    header = f"__Host-keystile={value}".encode("latin-1").decode("latin-1")
    with _COOKIE_APP.test_request_context(headers={"Cookie": header}):
        opened = _COOKIE_APP.session_interface.open_session(_COOKIE_APP, _request_of(_COOKIE_APP))
        assert opened is not None and dict(opened) == {}


def _request_of(app: Flask) -> typing.Any:
    from flask import request

    return request._get_current_object()  # type: ignore[attr-defined]


# -- proxy adapters ----------------------------------------------------------------------------

CODES = set(typing.get_args(ErrorCode))
_HEADER_NAMES = sorted(
    {name for fmt in FORMATS for name in get_adapter(fmt).header_names}
    | {"x-forwarded-for", "x-other"}
)
_HEADER_VALUES = st.one_of(
    st.text(max_size=200),
    URL_LIKE,
    st.binary(max_size=120).map(lambda b: __import__("base64").b64encode(b).decode()),
)


@PROPERTIES
@given(
    fmt=st.sampled_from(FORMATS),
    headers=st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), _HEADER_VALUES), max_size=4),
)
def test_proxy_adapters_answer_one_of_three_ways(fmt: str, headers: list[tuple[str, str]]) -> None:
    try:
        out = get_adapter(fmt).extract(headers)
    except ProxyHeaderError as error:
        assert error.code in CODES
        return
    assert out is None or isinstance(out, ForwardedCertificate)

"""Envoy XFCC: a real tokenizer, the last element only, Hash checked (threat model A.4, A.6)."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest

from app.proxy import ProxyHeaderError, get_adapter
from app.proxy.xfcc import parse_xfcc

XFCC = "X-Forwarded-Client-Cert"


def _cert(wire, *ders):
    return quote(wire.pem_text([("CERTIFICATE", der) for der in ders]), safe="")


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _extract(value):
    return get_adapter("envoy").extract([(XFCC, value)])


def _refused(value):
    with pytest.raises(ProxyHeaderError) as refused:
        _extract(value)
    return refused.value.code


# -- the grammar -------------------------------------------------------------------------

HASH = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            f'By=http://frontend.lyft.com;Hash={HASH};Subject="/C=US/ST=CA/L=San Francisco/'
            'OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com',
            [
                [
                    ("by", "http://frontend.lyft.com"),
                    ("hash", HASH),
                    ("subject", "/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client"),
                    ("uri", "http://testclient.lyft.com"),
                ]
            ],
            id="envoy-docs-single",
        ),
        pytest.param(
            f"By=http://frontend.lyft.com;Hash={HASH};URI=http://testclient.lyft.com,"
            f"By=http://backend.lyft.com;Hash={HASH};URI=http://frontend.lyft.com",
            [
                [
                    ("by", "http://frontend.lyft.com"),
                    ("hash", HASH),
                    ("uri", "http://testclient.lyft.com"),
                ],
                [
                    ("by", "http://backend.lyft.com"),
                    ("hash", HASH),
                    ("uri", "http://frontend.lyft.com"),
                ],
            ],
            id="envoy-docs-two-elements",
        ),
        pytest.param(
            f"By=http://frontend.lyft.com;Hash={HASH};URI=http://testclient.lyft.com;"
            "DNS=lyft.com;DNS=www.lyft.com",
            [
                [
                    ("by", "http://frontend.lyft.com"),
                    ("hash", HASH),
                    ("uri", "http://testclient.lyft.com"),
                    ("dns", "lyft.com"),
                    ("dns", "www.lyft.com"),
                ]
            ],
            id="envoy-docs-repeated-dns",
        ),
        pytest.param(
            'Subject="CN=x;Cert=evil,By=y";Hash=00',
            [[("subject", "CN=x;Cert=evil,By=y"), ("hash", "00")]],
            id="separators-inside-quotes",
        ),
        pytest.param(
            r'Subject="CN=a \"b\", O=c\\d";URI=u',
            [[("subject", 'CN=a "b", O=c\\d'), ("uri", "u")]],
            id="escaped-quote-and-backslash",
        ),
        pytest.param(
            "Cert=abc%3D;Chain=x=y==", [[("cert", "abc%3D"), ("chain", "x=y==")]], id="equals"
        ),
        pytest.param(
            "By=a ; HASH = b , uri=c",
            [[("by", "a"), ("hash", "b")], [("uri", "c")]],
            id="whitespace-and-key-case",
        ),
        pytest.param('By="";Hash=', [[("by", ""), ("hash", "")]], id="empty-values"),
        pytest.param(
            'Subject="CN=x" ;URI=u', [[("subject", "CN=x"), ("uri", "u")]], id="space-after-quote"
        ),
    ],
)
def test_xfcc_grammar(value, expected):
    assert [list(element.pairs) for element in parse_xfcc(value)] == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('Subject="CN=x', id="unterminated-quote"),
        pytest.param('Subject="CN=x\\', id="trailing-backslash"),
        pytest.param('Subject=a"b"', id="quote-inside-bare-value"),
        pytest.param('Subject="a"b', id="text-after-quoted"),
        pytest.param("By=a;", id="trailing-semicolon"),
        pytest.param("By=a,", id="trailing-comma"),
        pytest.param(",By=a", id="leading-comma"),
        pytest.param("By=a,,By=b", id="empty-element"),
        pytest.param("By=a;;Hash=b", id="empty-pair"),
        pytest.param("By", id="key-without-value"),
        pytest.param("=a", id="value-without-key"),
        pytest.param('"By"=a', id="quoted-key"),
        pytest.param("B y=a", id="space-in-key"),
        pytest.param("1By=a", id="key-starting-with-digit"),
    ],
)
def test_xfcc_grammar_violations_are_refused(value):
    with pytest.raises(ProxyHeaderError) as refused:
        parse_xfcc(value)

    assert refused.value.code == "malformed"


# -- the adapter ---------------------------------------------------------------------------


def test_cert_hash_and_chain(pki, wire):
    value = (
        f"By=spiffe://proxy;Hash={_sha256(pki.leaf_der)};Cert={_cert(wire, pki.leaf_der)};"
        f'Chain={_cert(wire, pki.leaf_der, pki.ca_der)};Subject="CN=alice";URI=spiffe://a'
    )

    forwarded = _extract(value)

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der
    assert forwarded.chain == (pki.ca,)
    assert forwarded.proxy_verify is None


def test_quoted_cert_and_upper_case_hash(pki, wire):
    value = f'Hash={_sha256(pki.leaf_der).upper()};Cert="{_cert(wire, pki.leaf_der)}"'

    forwarded = _extract(value)

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der


def test_only_the_last_element_counts(pki, wire):
    """APPEND_FORWARD: whatever came before the last element was written by the client."""
    forged = f"By=spiffe://x;Hash={_sha256(pki.leaf_der)};Cert={_cert(wire, pki.leaf_der)}"
    own = wire.der(pki.self_signed)
    real = f"By=spiffe://proxy;Hash={_sha256(own)};Cert={_cert(wire, own)}"

    forwarded = _extract(f"{forged},{real}")

    assert forwarded is not None
    assert forwarded.leaf_der == own


def test_subject_cannot_inject_a_cert_field(pki, wire):
    """A naive split on ';' would read the victim's certificate out of the attacker's subject."""
    victim = _cert(wire, pki.leaf_der)
    attacker = wire.der(pki.self_signed)
    value = (
        f'By=spiffe://proxy;Hash={_sha256(attacker)};Subject="CN=x;Cert={victim}";'
        f"Cert={_cert(wire, attacker)};URI=spiffe://attacker"
    )

    forwarded = _extract(value)

    assert forwarded is not None
    assert forwarded.leaf_der == attacker


def test_subject_cannot_inject_an_element(pki, wire):
    victim = _cert(wire, pki.leaf_der)
    value = f'By=spiffe://proxy;Hash={_sha256(pki.leaf_der)};Subject="CN=x,Cert={victim}"'

    assert _refused(value) == "cert_not_forwarded"


def test_subject_with_an_unbalanced_quote_is_refused(pki, wire):
    value = f'Subject="CN=x;Cert={_cert(wire, pki.leaf_der)}'

    assert _refused(value) == "malformed"


@pytest.mark.parametrize(
    ("build", "code"),
    [
        pytest.param(
            lambda p, w: f"Hash={_sha256(w.der(p.self_signed))};Cert={_cert(w, p.leaf_der)}",
            "hash_mismatch",
            id="hash-of-another-certificate",
        ),
        pytest.param(
            lambda p, w: f"Hash={'0' * 64};Cert={_cert(w, p.leaf_der)}",
            "hash_mismatch",
            id="hash-zero",
        ),
        pytest.param(
            lambda p, w: f"Hash={_sha256(p.leaf_der)[:40]};Cert={_cert(w, p.leaf_der)}",
            "malformed",
            id="hash-sha1-length",
        ),
        pytest.param(
            lambda p, w: f"Hash=xyz;Cert={_cert(w, p.leaf_der)}", "malformed", id="hash-junk"
        ),
        pytest.param(
            lambda p, w: f"By=spiffe://proxy;Hash={_sha256(p.leaf_der)}",
            "cert_not_forwarded",
            id="hash-only-default-config",
        ),
        pytest.param(lambda p, w: "By=spiffe://proxy;Cert=", "cert_not_forwarded", id="empty-cert"),
        pytest.param(
            lambda p, w: f"Cert={_cert(w, p.leaf_der)},By=spiffe://proxy",
            "cert_not_forwarded",
            id="cert-only-in-an-earlier-element",
        ),
        pytest.param(
            lambda p, w: f"Cert={_cert(w, p.leaf_der)};Cert={_cert(w, p.leaf_der)}",
            "malformed",
            id="cert-twice",
        ),
        pytest.param(
            lambda p, w: f"Hash=a;hash=b;Cert={_cert(w, p.leaf_der)}",
            "malformed",
            id="hash-twice-other-case",
        ),
        pytest.param(
            lambda p, w: f"Cert={_cert(w, p.leaf_der)};Chain={_cert(w, p.ca_der)}",
            "malformed",
            id="chain-not-starting-with-cert",
        ),
        pytest.param(
            lambda p, w: f"Cert={_cert(w, p.leaf_der)};Chain={_cert(w, *[p.leaf_der] * 12)}",
            "too_large",
            id="chain-of-twelve",
        ),
        pytest.param(
            lambda p, w: f"Cert={_cert(w, p.leaf_der)};Chain=%zz", "malformed", id="chain-escape"
        ),
        pytest.param(
            lambda p, w: f"Cert={w.b64(p.leaf_der)}", "malformed", id="cert-base64-not-pem"
        ),
        pytest.param(lambda p, w: "Cert=%41%zz", "malformed", id="cert-bad-escape"),
        pytest.param(
            lambda p, w: f"Cert={_cert(w, p.leaf_der, p.ca_der)}",
            "chain_as_leaf",
            id="cert-holding-a-chain",
        ),
    ],
)
def test_bad_xfcc_is_refused(build, code, pki, wire):
    assert _refused(build(pki, wire)) == code


def test_xfcc_without_hash_is_accepted(pki, wire):
    forwarded = _extract(f"Cert={_cert(wire, pki.leaf_der)}")

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der

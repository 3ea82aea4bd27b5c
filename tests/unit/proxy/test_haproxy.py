"""HAProxy: ``ssl_c_der``, ``ssl_c_chain_der``, ``ssl_c_used`` and ``ssl_c_verify``."""

from __future__ import annotations

import pytest

from app.proxy import ProxyHeaderError, get_adapter

DER = "X-SSL-Client-DER"
USED = "X-SSL-Client-Used"
CHAIN = "X-SSL-Client-Chain-DER"
VERIFY = "X-SSL-Client-Verify"


def _extract(headers):
    return get_adapter("haproxy").extract(headers)


def test_leaf_and_chain(pki, wire):
    forwarded = _extract(
        [
            (USED, "1"),
            (DER, wire.b64(pki.leaf_der)),
            (CHAIN, wire.b64(pki.ca_der)),
            (VERIFY, "0"),
        ]
    )

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der
    assert forwarded.chain == (pki.ca,)
    assert forwarded.proxy_verify == "0"


def test_chain_repeating_the_leaf_first_loses_it(pki, wire):
    forwarded = _extract(
        [(USED, "1"), (DER, wire.b64(pki.leaf_der)), (CHAIN, wire.b64(pki.leaf_der + pki.ca_der))]
    )

    assert forwarded is not None
    assert forwarded.chain == (pki.ca,)


@pytest.mark.parametrize("verify", ["18", "20", "0", None])
def test_verify_code_is_information_only(verify, pki, wire):
    """18 is X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: a pinned self-signed certificate."""
    headers = [(USED, "1"), (DER, wire.b64(wire.der(pki.self_signed)))]
    if verify is not None:
        headers.append((VERIFY, verify))

    forwarded = _extract(headers)

    assert forwarded is not None
    assert forwarded.leaf == pki.self_signed
    assert forwarded.proxy_verify == verify


def test_used_header_absent_lets_the_certificate_decide(pki, wire):
    forwarded = _extract([(DER, wire.b64(pki.leaf_der))])

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(USED, "0"), (DER, ""), (CHAIN, ""), (VERIFY, "0")], id="unused-empty"),
        pytest.param([(USED, "0"), (VERIFY, "0")], id="unused-absent"),
        pytest.param("UNUSED-WITH-CERT", id="unused-with-a-certificate"),
        pytest.param([(USED, "1"), (DER, "")], id="used-but-empty"),
        pytest.param("CHAIN-ONLY", id="chain-without-leaf"),
    ],
)
def test_no_certificate_per_haproxy(headers, pki, wire):
    """ssl_c_verify is 0 without a certificate too; ssl_c_used decides (threat model A.5)."""
    if headers == "UNUSED-WITH-CERT":
        headers = [(USED, "0"), (DER, wire.b64(pki.leaf_der)), (VERIFY, "0")]
    elif headers == "CHAIN-ONLY":
        headers = [(USED, "1"), (CHAIN, wire.b64(pki.ca_der))]

    assert _extract(headers) is None


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        pytest.param([(USED, "2")], "malformed", id="used-2"),
        pytest.param([(USED, "yes")], "malformed", id="used-word"),
        pytest.param([(VERIFY, "-1")], "malformed", id="verify-negative"),
        pytest.param([(VERIFY, "ok")], "malformed", id="verify-word"),
        pytest.param([(CHAIN, "!!!")], "malformed", id="chain-junk"),
        pytest.param([(CHAIN, "BAA=")], "not_a_certificate", id="chain-octet-string"),
        pytest.param([(CHAIN, "MAA=")], "not_a_certificate", id="chain-empty-sequence"),
        pytest.param("ELEVEN", "too_large", id="chain-of-eleven"),
        pytest.param("CHAIN-TRAILING", "malformed", id="chain-truncated-tail"),
    ],
)
def test_bad_companion_headers_are_refused(extra, code, pki, wire):
    if extra == "ELEVEN":
        extra = [(CHAIN, wire.b64(pki.ca_der * 11))]
    elif extra == "CHAIN-TRAILING":
        extra = [(CHAIN, wire.b64(pki.ca_der + b"\x30\x05ab"))]
    used = [] if any(name == USED for name, _ in extra) else [(USED, "1")]
    headers = [*used, (DER, wire.b64(pki.leaf_der)), *extra]

    with pytest.raises(ProxyHeaderError) as refused:
        _extract(headers)

    assert refused.value.code == code


def test_chain_of_ten_is_the_limit(pki, wire):
    forwarded = _extract(
        [(USED, "1"), (DER, wire.b64(pki.leaf_der)), (CHAIN, wire.b64(pki.ca_der * 10))]
    )

    assert forwarded is not None
    assert len(forwarded.chain) == 10


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("!!!!", id="punctuation"),
        pytest.param("QUJD*", id="star"),
        pytest.param("QQ", id="missing-padding"),
        pytest.param("QQ==QQ==", id="padding-inside"),
        pytest.param("QU JD", id="space-inside"),
        pytest.param("QUJD%3D", id="url-escaped"),
        pytest.param("-----BEGIN CERTIFICATE-----", id="pem"),
        pytest.param("Q", id="one-char"),
    ],
)
def test_base64_junk_is_refused(value):
    with pytest.raises(ProxyHeaderError) as refused:
        _extract([(USED, "1"), (DER, value)])

    assert refused.value.code == "malformed"


def test_url_safe_base64_is_refused(pki, wire):
    urlsafe = wire.b64(pki.leaf_der).replace("+", "-").replace("/", "_")
    if urlsafe == wire.b64(pki.leaf_der):
        pytest.skip("this certificate's base64 has neither + nor /")

    with pytest.raises(ProxyHeaderError) as refused:
        _extract([(USED, "1"), (DER, urlsafe)])

    assert refused.value.code == "malformed"

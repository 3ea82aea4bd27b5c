"""RFC 9440: ``Client-Cert`` (an RFC 8941 byte sequence) and ``Client-Cert-Chain`` (a list)."""

from __future__ import annotations

import pytest

from app.proxy import ProxyHeaderError, get_adapter
from app.proxy.structured_fields import parse_byte_sequence_item, parse_byte_sequence_list

CERT = "Client-Cert"
CHAIN = "Client-Cert-Chain"


def _extract(headers):
    return get_adapter("rfc9440").extract(headers)


def _refused(headers):
    with pytest.raises(ProxyHeaderError) as refused:
        _extract(headers)
    return refused.value.code


def test_leaf_and_chain(pki, wire):
    forwarded = _extract(
        [(CERT, f":{wire.b64(pki.leaf_der)}:"), (CHAIN, f":{wire.b64(pki.ca_der)}:")]
    )

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der
    assert forwarded.chain == (pki.ca,)


def test_chain_may_be_split_over_several_field_lines(pki, wire):
    """RFC 9440 §2.3: Client-Cert-Chain MAY occur multiple times (RFC 9110 §5.3 combining)."""
    ca = f":{wire.b64(pki.ca_der)}:"
    own = f":{wire.b64(wire.der(pki.self_signed))}:"

    forwarded = _extract(
        [(CERT, f":{wire.b64(pki.leaf_der)}:"), (CHAIN, f"{ca}, {own}"), (CHAIN, ca)]
    )

    assert forwarded is not None
    assert forwarded.chain == (pki.ca, pki.self_signed, pki.ca)


def test_chain_without_client_cert_is_no_certificate(pki, wire):
    assert _extract([(CHAIN, f":{wire.b64(pki.ca_der)}:")]) is None


def test_parameters_are_ignored(pki, wire):
    value = f':{wire.b64(pki.leaf_der)}:;a=1;b="x;y,z";c=?0;d=tok/en;e=:AA==:;f;g=-1.5'

    forwarded = _extract([(CERT, value)])

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der


def test_missing_padding_is_synthesized(pki, wire):
    """RFC 8941 §4.2.7: parsers SHOULD NOT fail when "=" padding is missing."""
    unpadded = wire.b64(pki.leaf_der).rstrip("=")

    forwarded = _extract([(CERT, f":{unpadded}:")])

    assert forwarded is not None
    assert forwarded.leaf_der == pki.leaf_der


@pytest.mark.parametrize(
    ("build", "code"),
    [
        pytest.param(lambda p, w: w.b64(p.leaf_der), "malformed", id="no-colons"),
        pytest.param(lambda p, w: f":{w.b64(p.leaf_der)}", "malformed", id="no-closing-colon"),
        pytest.param(lambda p, w: f"{w.b64(p.leaf_der)}:", "malformed", id="no-opening-colon"),
        pytest.param(lambda p, w: f'"{w.b64(p.leaf_der)}"', "malformed", id="sf-string"),
        pytest.param(lambda p, w: "::", "malformed", id="empty-byte-sequence"),
        pytest.param(lambda p, w: ":!!!!:", "malformed", id="junk-inside"),
        pytest.param(lambda p, w: ":Q:", "malformed", id="one-char"),
        pytest.param(lambda p, w: f"({w.b64(p.leaf_der)})", "malformed", id="inner-list"),
        pytest.param(lambda p, w: f":{w.b64(p.leaf_der)}: x", "malformed", id="text-after"),
        pytest.param(lambda p, w: f":{w.b64(p.leaf_der)}:;A=1", "malformed", id="upper-param"),
        pytest.param(
            lambda p, w: f":{w.b64(p.leaf_der)}:, :{w.b64(p.ca_der)}:",
            "duplicate_header",
            id="list-in-singleton",
        ),
    ],
)
def test_bad_client_cert_is_refused(build, code, pki, wire):
    assert _refused([(CERT, build(pki, wire))]) == code


@pytest.mark.parametrize(
    ("build", "code"),
    [
        pytest.param(lambda p, w: w.b64(p.ca_der), "malformed", id="no-colons"),
        pytest.param(lambda p, w: f":{w.b64(p.ca_der)}:,", "malformed", id="trailing-comma"),
        pytest.param(lambda p, w: f":{w.b64(p.ca_der)}: :AA==:", "malformed", id="no-comma"),
        pytest.param(lambda p, w: f"(:{w.b64(p.ca_der)}:)", "malformed", id="inner-list"),
        pytest.param(
            lambda p, w: ", ".join([f":{w.b64(p.ca_der)}:"] * 11), "too_large", id="eleven"
        ),
        pytest.param(lambda p, w: f":{w.b64(p.key_der)}:", "not_a_certificate", id="private-key"),
    ],
)
def test_bad_client_cert_chain_is_refused(build, code, pki, wire):
    headers = [(CERT, f":{wire.b64(pki.leaf_der)}:"), (CHAIN, build(pki, wire))]

    assert _refused(headers) == code


@pytest.mark.parametrize(
    ("text", "members"),
    [
        (":AQ==:", [b"\x01"]),
        (":AQ==:,:Ag==:", [b"\x01", b"\x02"]),
        (":AQ==: ,\t:Ag==:;p=1", [b"\x01", b"\x02"]),
        ("", []),
    ],
)
def test_byte_sequence_list(text, members):
    assert parse_byte_sequence_list(text, max_members=10) == members


def test_byte_sequence_item():
    assert parse_byte_sequence_item("  :AQI=:  ") == b"\x01\x02"

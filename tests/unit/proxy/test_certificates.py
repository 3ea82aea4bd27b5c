"""Every format against the same certificates and the same bad certificates (threat model A.6).

Each scenario builds PEM blocks; the ``wire`` fixture encodes them the way each proxy does
(PEM formats keep the labels, DER formats concatenate the bytes), so one table covers all
eight formats.
"""

from __future__ import annotations

import pytest

from app.proxy import FORMATS, ForwardedCertificate, ProxyHeaderError, get_adapter

GOOD = [
    pytest.param(lambda pki: pki.leaf, id="ca-signed-leaf"),
    pytest.param(lambda pki: pki.self_signed, id="self-signed"),
    pytest.param(lambda pki: pki.ca, id="ca-certificate"),  # refusing CAs is policy, not parsing
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pick", GOOD)
def test_good_certificate_comes_back_byte_for_byte(fmt, pick, pki, wire):
    certificate = pick(pki)

    forwarded = get_adapter(fmt).extract(wire.encode_certificate(fmt, certificate))

    assert isinstance(forwarded, ForwardedCertificate)
    assert forwarded.leaf_der == wire.der(certificate)
    assert forwarded.leaf == certificate
    assert forwarded.chain == ()


def _reencoded_with_long_length(data: bytes) -> bytes:
    """The same SEQUENCE with a 4-octet length: valid BER, forbidden by DER (X.690 §10.1)."""
    assert data[1] == 0x82
    return b"\x30\x84\x00\x00" + data[2:]


#: (id, blocks built from the pki, expected code, formats where the case does not apply)
BAD = [
    ("der-trailing-zero", lambda p: [("CERTIFICATE", p.leaf_der + b"\x00")], "trailing_data"),
    ("der-trailing-text", lambda p: [("CERTIFICATE", p.leaf_der + b"junk")], "trailing_data"),
    ("der-truncated", lambda p: [("CERTIFICATE", p.leaf_der[:-20])], "malformed"),
    ("der-first-half", lambda p: [("CERTIFICATE", p.leaf_der[:100])], "malformed"),
    (
        "der-long-form-length",
        lambda p: [("CERTIFICATE", _reencoded_with_long_length(p.leaf_der))],
        "malformed",
    ),
    (
        "der-indefinite-length",
        lambda p: [("CERTIFICATE", b"\x30\x80" + p.leaf_der[4:] + b"\x00\x00")],
        "malformed",
    ),
    ("der-high-tag", lambda p: [("CERTIFICATE", b"\xff\x01\x00")], "malformed"),
    ("der-octet-string", lambda p: [("CERTIFICATE", b"\x04\x03abc")], "not_a_certificate"),
    ("der-empty-sequence", lambda p: [("CERTIFICATE", b"\x30\x00")], "not_a_certificate"),
    ("csr", lambda p: [("CERTIFICATE REQUEST", p.csr_der)], "not_a_certificate"),
    ("csr-labelled-certificate", lambda p: [("CERTIFICATE", p.csr_der)], "not_a_certificate"),
    ("private-key", lambda p: [("PRIVATE KEY", p.key_der)], "not_a_certificate"),
    (
        "private-key-labelled-certificate",
        lambda p: [("CERTIFICATE", p.key_der)],
        "not_a_certificate",
    ),
    (
        "negative-serial",
        lambda p: [("CERTIFICATE", p.negative_serial_der)],
        "not_a_certificate",
    ),
    (
        "chain-as-leaf",
        lambda p: [("CERTIFICATE", p.leaf_der), ("CERTIFICATE", p.ca_der)],
        "chain_as_leaf",
        {"traefik"},  # Traefik's header *is* the chain, leaf first
    ),
]


def _bad_params():
    for case in BAD:
        name, build, code = case[:3]
        exempt = case[3] if len(case) > 3 else set()
        for fmt in FORMATS:
            if fmt not in exempt:
                yield pytest.param(fmt, build, code, id=f"{fmt}-{name}")


@pytest.mark.parametrize(("fmt", "build", "code"), list(_bad_params()))
def test_bad_certificate_is_refused_with_its_code(fmt, build, code, pki, wire):
    headers = wire.encode(fmt, build(pki))

    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter(fmt).extract(headers)

    assert refused.value.code == code


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_messages_never_echo_the_header(fmt, pki, wire):
    headers = wire.encode(fmt, [("PRIVATE KEY", pki.key_der)])

    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter(fmt).extract(headers)

    body = wire.b64(pki.key_der)
    assert body[:16] not in str(refused.value)
    assert body[:16] not in refused.value.message

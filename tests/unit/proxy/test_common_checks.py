"""The checks every format shares: sources never combined, sizes bounded (threat model A.4, A.6)."""

from __future__ import annotations

import contextlib
import time

import pytest

from app.proxy import (
    FORMATS,
    ForwardedCertificate,
    ProxyHeaderError,
    all_known_certificate_headers,
    get_adapter,
)

SINGLE_VALUED = ("nginx", "apache", "haproxy", "caddy", "aws-alb", "rfc9440")
CHAIN_CAPABLE = ("envoy", "traefik")
KiB = 1024


def _certificate_header(fmt):
    return get_adapter(fmt).header_names[0]


def _refused(fmt, headers, **adapter_options):
    with pytest.raises(ProxyHeaderError) as refused:
        get_adapter(fmt, **adapter_options).extract(headers)
    return refused.value


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="no-headers"),
        pytest.param([("Host", "example.org"), ("Accept", "*/*")], id="unrelated-headers"),
        pytest.param(None, id="empty-certificate-header"),
        pytest.param("   ", id="blank-certificate-header"),
    ],
)
def test_no_certificate_header_is_no_certificate(fmt, headers):
    if not isinstance(headers, list):
        headers = [(_certificate_header(fmt), headers or "")]

    assert get_adapter(fmt).extract(headers) is None


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "second_name",
    [
        pytest.param(str, id="same-spelling"),
        pytest.param(str.upper, id="other-case"),
        pytest.param(str.title, id="title-case"),
    ],
)
def test_certificate_header_twice_is_refused(fmt, second_name, pki, wire):
    headers = wire.encode_certificate(fmt, pki.leaf)
    name, value = next(
        (name, value) for name, value in headers if name.lower() == _certificate_header(fmt)
    )

    error = _refused(fmt, [*headers, (second_name(name), value)])

    assert error.code == "duplicate_header"
    assert error.header == _certificate_header(fmt)


@pytest.mark.parametrize("fmt", ["nginx", "apache", "haproxy"])
def test_verdict_header_twice_is_refused(fmt, pki, wire):
    headers = wire.encode_certificate(fmt, pki.leaf)

    error = _refused(fmt, [*headers, ("X-SSL-Client-Verify", "SUCCESS")])

    assert error.code == "duplicate_header"


@pytest.mark.parametrize("fmt", SINGLE_VALUED)
def test_comma_joined_duplicate_is_refused(fmt, pki, wire):
    """What a WSGI server makes of a repeated header: one value, joined with a comma."""
    value = wire.certificate_value(fmt, pki.leaf)
    other = wire.certificate_value(fmt, pki.self_signed)
    headers = [
        (name, f"{other},{value}") if name.lower() == _certificate_header(fmt) else (name, v)
        for name, v in wire.encode_certificate(fmt, pki.leaf)
    ]

    assert _refused(fmt, headers).code == "duplicate_header"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("alone", [True, False], ids=["underscore-alone", "underscore-and-dash"])
def test_underscore_spelling_is_refused(fmt, alone, pki, wire):
    headers = wire.encode_certificate(fmt, pki.leaf)
    underscored = [
        (name.replace("-", "_"), value)
        for name, value in headers
        if name.lower() == _certificate_header(fmt)
    ]
    headers = underscored if alone else [*headers, *underscored]

    error = _refused(fmt, headers)

    assert error.code == "ambiguous_header"


def _foreign_params():
    for fmt in FORMATS:
        own = set(get_adapter(fmt).header_names)
        for header in sorted(all_known_certificate_headers() - own):
            yield pytest.param(fmt, header, id=f"{fmt}-{header}")


@pytest.mark.parametrize(("fmt", "foreign"), list(_foreign_params()))
@pytest.mark.parametrize("with_own", [True, False], ids=["with-own-cert", "alone"])
def test_other_formats_certificate_header_is_refused(fmt, foreign, with_own, pki, wire):
    headers = wire.encode_certificate(fmt, pki.leaf) if with_own else []

    error = _refused(fmt, [*headers, (foreign.title(), "anything")])

    assert error.code == "foreign_header"
    assert error.header == foreign


@pytest.mark.parametrize("fmt", FORMATS)
def test_foreign_header_in_underscore_spelling_is_refused(fmt, pki, wire):
    foreign = min(all_known_certificate_headers() - set(get_adapter(fmt).header_names))
    headers = [*wire.encode_certificate(fmt, pki.leaf), (foreign.replace("-", "_"), "x")]

    assert _refused(fmt, headers).code == "foreign_header"


@pytest.mark.parametrize("fmt", FORMATS)
def test_foreign_header_wins_over_duplicates_whatever_the_order(fmt, pki, wire):
    foreign = min(all_known_certificate_headers() - set(get_adapter(fmt).header_names))
    headers = wire.encode_certificate(fmt, pki.leaf)

    for ordering in ([*headers, *headers, (foreign, "x")], [(foreign, "x"), *headers, *headers]):
        assert _refused(fmt, ordering).code == "foreign_header"


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_of_64_kib_is_refused_before_parsing(fmt):
    headers = [(_certificate_header(fmt), "A" * (64 * KiB + 1))]

    assert _refused(fmt, headers).code == "too_large"


@pytest.mark.parametrize("fmt", FORMATS)
def test_size_limit_sits_at_16_or_64_kib(fmt):
    limit = (64 if fmt in CHAIN_CAPABLE else 16) * KiB
    name = _certificate_header(fmt)

    assert _refused(fmt, [(name, "A" * (limit + 1))]).code == "too_large"
    # At the limit the value is parsed, and refused for what it is.
    assert _refused(fmt, [(name, "A" * limit)]).code != "too_large"


@pytest.mark.parametrize(
    ("fmt", "header"),
    [
        ("haproxy", "x-ssl-client-chain-der"),
        ("rfc9440", "client-cert-chain"),
        ("nginx", "x-ssl-client-verify"),
        ("haproxy", "x-ssl-client-used"),
    ],
)
def test_companion_headers_are_bounded_too(fmt, header, pki, wire):
    limit = (64 if "chain" in header else 16) * KiB
    headers = [
        (name, value)
        for name, value in wire.encode_certificate(fmt, pki.leaf)
        if name.lower() != header
    ]
    headers.append((header, "A" * (limit + 1)))

    assert _refused(fmt, headers).code == "too_large"


def _slow_inputs(fmt, name):
    """Values at the size limit shaped to hurt a careless parser."""
    limit = (64 if fmt in CHAIN_CAPABLE else 16) * KiB
    return [
        "-----BEGIN " * (limit // 11),
        "%41" * (limit // 3),
        ('"\\"' * (limit // 3))[:limit],
        ("a=" + '\\"' * limit)[:limit],
        (";a=b" * limit)[:limit],
        (":" + "A" * (limit - 2) + ":"),
        ("MIIB," * limit)[:limit],
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_parse_time_is_bounded(fmt):
    name = _certificate_header(fmt)
    adapter = get_adapter(fmt)
    started = time.perf_counter()

    for value in _slow_inputs(fmt, name):
        with contextlib.suppress(ProxyHeaderError):
            adapter.extract([(name, value), ("X-SSL-Client-Used", "1")])

    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("caf\u00e9", id="non-ascii"),
        pytest.param("abc\x00def", id="nul"),
        pytest.param("abc\r\nX-Injected: 1", id="crlf"),
        pytest.param("abc\tdef", id="tab-inside"),
    ],
)
def test_characters_no_proxy_sends_are_refused(fmt, value):
    assert _refused(fmt, [(_certificate_header(fmt), value)]).code == "malformed"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("X-SSL-Client-Cert", None)], id="none-value"),
        pytest.param([(None, "value")], id="none-name"),
        pytest.param([("X-SSL-Client-Cert", b"bytes")], id="bytes-value"),
        pytest.param([("only-a-name",)], id="one-tuple"),
        pytest.param([42], id="not-a-pair"),
    ],
)
def test_caller_garbage_becomes_a_proxy_header_error(fmt, headers):
    """The boundary: nothing but ProxyHeaderError ever leaves ``extract``."""
    with pytest.raises(ProxyHeaderError):
        get_adapter(fmt).extract(headers)


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_name_override(fmt, pki, wire):
    default = _certificate_header(fmt)
    headers = [
        ("X-Client-Certificate" if name.lower() == default else name, value)
        for name, value in wire.encode_certificate(fmt, pki.leaf)
    ]
    adapter = get_adapter(fmt, header="X-Client-Certificate")

    forwarded = adapter.extract(headers)

    assert adapter.header_names[0] == "x-client-certificate"
    assert isinstance(forwarded, ForwardedCertificate)
    assert forwarded.leaf_der == pki.leaf_der
    # The default name is now another source, and refused.
    error = _refused(fmt, [*headers, (default, "x")], header="X-Client-Certificate")
    assert error.code == "foreign_header"


@pytest.mark.parametrize("fmt", FORMATS)
def test_header_name_override_may_reuse_another_formats_name(fmt, pki, wire):
    default = _certificate_header(fmt)
    other = "x-forwarded-client-cert" if fmt != "envoy" else "x-ssl-client-cert"
    headers = [
        (other if name.lower() == default else name, value)
        for name, value in wire.encode_certificate(fmt, pki.leaf)
    ]

    forwarded = get_adapter(fmt, header=other).extract(headers)

    assert isinstance(forwarded, ForwardedCertificate)

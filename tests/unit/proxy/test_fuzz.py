"""Random input to every adapter: only None, a ForwardedCertificate or ProxyHeaderError.

Seeded, hypothesis-free, and small enough to run in the unit suite every time.
"""

from __future__ import annotations

import random
import typing

import pytest

from app.proxy import FORMATS, ForwardedCertificate, ProxyHeaderError, get_adapter
from app.proxy.base import ErrorCode

ROUNDS = 500
CODES = set(typing.get_args(ErrorCode))
TOKENS = [
    "%",
    "%2",
    "%0A",
    '"',
    "\\",
    ",",
    ";",
    "=",
    ":",
    " ",
    "(null)",
    "NONE",
    "-----BEGIN CERTIFICATE-----",
    "-----END CERTIFICATE-----",
    "-----BEGIN PRIVATE KEY-----",
    "Cert=",
    "Hash=",
    "Chain=",
    "MIIB",
    "==",
]


def _contained(adapter, headers):
    """The adapter's answer, failing the test on anything but the three allowed outcomes."""
    try:
        result = adapter.extract(headers)
    except ProxyHeaderError as error:
        assert error.code in CODES
        return error.code
    assert result is None or isinstance(result, ForwardedCertificate)
    return "none" if result is None else "certificate"


def _mutate_text(rng, value):
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(value) + 1)
        match rng.randrange(6):
            case 0:  # replace one character with any byte
                value = value[:at] + chr(rng.randrange(256)) + value[at + 1 :]
            case 1:  # insert a token that means something to some grammar
                value = value[:at] + rng.choice(TOKENS) + value[at:]
            case 2:  # delete a slice
                value = value[:at] + value[at + rng.randint(1, 40) :]
            case 3:  # duplicate a slice
                value = value[:at] + value[at : at + rng.randint(1, 200)] + value[at:]
            case 4:  # truncate
                value = value[:at]
            case _:  # swap case of a character
                value = value[:at] + value[at : at + 1].swapcase() + value[at + 1 :]
    return value


def _mutate_der(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data))
        data[at] = rng.randrange(256)
    return bytes(data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_bytes(fmt):
    rng = random.Random(f"random-bytes-{fmt}")
    adapter = get_adapter(fmt)
    names = adapter.header_names

    for _ in range(ROUNDS):
        value = rng.randbytes(rng.randrange(0, 300)).decode("latin-1")
        headers = [(rng.choice(names), value)]
        if rng.random() < 0.3:
            headers.append((rng.choice(names), rng.randbytes(8).decode("latin-1")))
        _contained(adapter, headers)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_good_headers(fmt, pki, wire):
    rng = random.Random(f"mutations-{fmt}")
    adapter = get_adapter(fmt)
    good = wire.encode(fmt, [("CERTIFICATE", pki.leaf_der)])
    outcomes = set()

    for _ in range(ROUNDS):
        headers = [
            (name, _mutate_text(rng, value) if rng.random() < 0.7 else value)
            for name, value in good
        ]
        outcomes.add(_contained(adapter, headers))

    assert len(outcomes) > 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_der_inside_a_well_formed_header(fmt, pki, wire):
    """Valid framing around broken DER reaches the certificate parser itself."""
    rng = random.Random(f"der-{fmt}")
    adapter = get_adapter(fmt)

    for _ in range(ROUNDS):
        data = _mutate_der(rng, rng.choice([pki.leaf_der, pki.ca_der, pki.csr_der]))
        _contained(adapter, wire.encode(fmt, [("CERTIFICATE", data)]))

"""Hypothesis settings and strategies shared by the property tests of hostile input.

Derandomized, so a run in CI tries the same examples as the run before it (as the seeded
fuzz tests do), and without the example database (no ``.hypothesis/`` left in the tree).
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: the unit property tests: plain functions, many examples
PROPERTIES = settings(database=None, derandomize=True, deadline=None, max_examples=400)
#: property tests through the Flask test client: fewer examples, one app for all of them
THROUGH_THE_APP = settings(
    database=None,
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: pieces that mean something to a URL, an address or a header grammar somewhere
URL_PIECES = st.sampled_from(
    [
        "/",
        "//",
        "\\",
        "/\\",
        "http:",
        "https:",
        "javascript:",
        "//evil.test",
        "evil.test",
        "@",
        ":",
        "?",
        "#",
        "%",
        "%2F",
        "%2f",
        "%5C",
        "%EF%BC%8F",
        "\uff0f",
        "\u2044",
        "\u2215",
        "\u3002",
        "[",
        "]",
        "[::1]",
        "\t",
        "\n",
        "\r",
        "\x00",
        "\x7f",
        "\u202e",
        "\ud800",
        ".",
        "..",
        "a",
        "account",
        "~",
        " ",
        "\u00a0",
        "\u2100",
        "\u2101",
        "\ufe6b",
    ]
)
#: strings built from those pieces, with any text between them
URL_LIKE = st.lists(st.one_of(URL_PIECES, st.text(max_size=6)), max_size=12).map("".join)
ADDRESS_PIECES = st.sampled_from(
    [
        "1.2.3.4",
        "10.0.0.1",
        "::1",
        "::ffff:1.2.3.4",
        "2001:db8::1",
        "fe80::1%eth0",
        "[::1]",
        "unknown",
        ",",
        " ",
        ";",
        "%",
        "256.1.1.1",
        "1.2.3",
        "0x7f.1",
        "::",
        "\x00",
        "\u0661",
    ]
)
ADDRESS_LIKE = st.lists(st.one_of(ADDRESS_PIECES, st.text(max_size=4)), max_size=6).map("".join)

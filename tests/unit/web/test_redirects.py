"""Where a sign-in may send the browser: relative paths, or https URLs on hosts a rule
names; a corpus of hostile URLs all fall back to the default, and nothing raises."""

from __future__ import annotations

import itertools

import pytest

from app.services.access import parse_rules
from app.web.redirects import safe_next

RULES = parse_rules(
    {"rule": [{"hosts": ["wiki.example.com", "*.example.org"], "policy": "bypass"}]}
)
DEFAULT = "/account"
GOOD = "wiki.example.com"


def go(target: str | None) -> str:
    return safe_next(target, DEFAULT, external_host=RULES.names_host)


@pytest.mark.parametrize(
    "target",
    [
        "/account",
        "/admin/users/3?x=1",
        "/a?next=https://evil.com",
        "/a#frag",
        f"https://{GOOD}/",
        f"https://{GOOD}",
        f"https://{GOOD}/page?q=1&r=%2F#top",
        f"https://{GOOD}:8443/x",
        "https://a.example.org/",
        "https://a.b.example.org/x",
        f"https://{GOOD}./x",
        f"https://{GOOD}#@evil.com",
        f"https://{GOOD}/?@evil.com",
    ],
)
def test_safe_targets_are_kept(target: str) -> None:
    assert go(target) == target


def test_without_external_hosts_only_relative_paths() -> None:
    assert safe_next(f"https://{GOOD}/", DEFAULT) == DEFAULT
    assert safe_next("/x", DEFAULT) == "/x"


#: ``{evil}`` is replaced by each of EVIL_HOSTS; ``{good}`` by a host a rule names
TEMPLATES = [
    # scheme-relative and slash tricks
    "//{evil}",
    "///{evil}",
    "////{evil}/",
    "/\\{evil}",
    "\\\\{evil}",
    "\\/{evil}",
    "/\\/{evil}",
    "//{evil}/%2f..",
    "//{good}",
    "//{good}@{evil}",
    # scheme without slashes, or odd slashes
    "https:{evil}",
    "https:/{evil}",
    "https:\\\\{evil}",
    "https:///{evil}",
    "https:/\\{evil}",
    "https:\\/{evil}",
    "HTTPS://{evil}",
    "Https://{good}/",
    # plain other host, and look-alike suffixes and prefixes
    "https://{evil}",
    "https://{evil}/",
    "https://{evil}/{good}",
    "https://{evil}?{good}",
    "https://{evil}#{good}",
    "https://{good}.{evil}/",
    "https://{evil}.{good}x/",
    "https://x{good}/",
    "https://{good}x/",
    "https://{good}-{evil}/",
    # user info
    "https://{good}@{evil}/",
    "https://{good}:443@{evil}/",
    "https://user:pw@{good}/",
    "https://@{good}/",
    "https://{evil}\\@{good}/",
    "https://{good}%40{evil}/",
    "https://{good}%2f@{evil}/",
    "https://{good}%2F%2F{evil}",
    # whitespace and control characters browsers strip or split on
    "https://{good}\t.{evil}/",
    "https://{good}\n.{evil}/",
    "\thttps://{evil}",
    " https://{good}/",
    "https://{good}/ ",
    "https://{good} @{evil}/",
    "https://{good}\r\n/",
    "https://{good}/\x00{evil}",
    "/\t/{evil}",
    "/\n/{evil}",
    "https://{good}\x7f/",
    # encoded and Unicode look-alikes (fullwidth solidus and full stop, ideographic stop)
    "\uff0f\uff0f{evil}",
    "/\uff0f{evil}",
    "https://{evil}\uff0f{good}",
    "https://{good}\uff0f@{evil}/",
    "https://{good}\u3002{evil}/",
    "https://{good}\uff0e{evil}",
    "https://wіki.example.com/",
    "https://{good}\u2044@{evil}",
    "https:\uff0f\uff0f{evil}",
    "%2f%2f{evil}",
    "%2F%2F{evil}",
    "https%3a%2f%2f{evil}",
    "https://{evil}%2f{good}",
    # other schemes
    "http://{good}/",
    "http://{evil}/",
    "javascript:alert(1)//{evil}",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>{evil}",
    "vbscript:msgbox({evil})",
    "file:///etc/passwd?{evil}",
    "ftp://{good}/",
    "ws://{good}/",
    "wss://{good}/",
    "blob:https://{good}/{evil}",
    "https+x://{good}/",
    "mailto:a@{good}?{evil}",
    # hosts that cannot be read, or ports that cannot be
    "https://{good}:99999/",
    "https://{good}:x/",
    "https://[{evil}/",
    "https://{good}]/",
]
EVIL_HOSTS = ["evil.com", "example.org.evil.net", "127.0.0.1", "evilexample.org"]


def _corpus() -> list[str]:
    found = dict.fromkeys(
        t.format(good=GOOD, evil=e) for t, e in itertools.product(TEMPLATES, EVIL_HOSTS)
    )
    found.update(
        dict.fromkeys(
            [
                "",
                "https://",
                "https://[::1]/",
                "https://example.org/",
                "https://evil-example.org/",
                "https:",
                "/" * 3000,
                f"https://{GOOD}/" + "a" * 2000,
            ]
        )
    )
    return list(found)


CORPUS = _corpus()


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 200


@pytest.mark.parametrize("target", CORPUS)
def test_hostile_targets_fall_back(target: str) -> None:
    assert go(target) == DEFAULT


@pytest.mark.parametrize(
    "target", ["https://[::1", "https://[x]/", "//[", "https://a]:1/", "https://[::1]:99/"]
)
def test_values_urlsplit_refuses_never_raise(target: str) -> None:
    assert go(target) == DEFAULT

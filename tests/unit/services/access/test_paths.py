"""Path normalisation for access rules: decode once, resolve dot segments, refuse the rest."""

from __future__ import annotations

import pytest

from app.services.access import UnsafePath, normalise_path
from app.services.access.paths import MAX_PATH_LENGTH


@pytest.mark.parametrize(
    ("target", "path"),
    [
        pytest.param("/", "/", id="root"),
        pytest.param("/wiki/Main", "/wiki/Main", id="plain"),
        pytest.param("/a/b/?x=1#frag", "/a/b/", id="query-and-fragment-dropped"),
        pytest.param("/a//b///c", "/a/b/c", id="empty-segments-collapsed"),
        pytest.param("//admin/", "/admin/", id="leading-double-slash"),
        pytest.param("/a/./b/../c", "/a/c", id="dot-segments"),
        pytest.param("/public/../admin/", "/admin/", id="climb-out-of-public"),
        pytest.param("/a/b/..", "/a/", id="trailing-dotdot-keeps-slash"),
        pytest.param("/a/.", "/a/", id="trailing-dot-keeps-slash"),
        pytest.param("/%61dmin/", "/admin/", id="decoded-once"),
        pytest.param("/wiki/%C3%9Cber", "/wiki/\u00dcber", id="utf8-decoded"),
        pytest.param("/50%25off", "/50%off", id="percent-sign-once"),
        pytest.param("/a%20b", "/a b", id="space"),
        pytest.param("/a/b?next=/../../etc", "/a/b", id="query-not-resolved"),
    ],
)
def test_normalised(target: str, path: str) -> None:
    assert normalise_path(target) == path


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("", id="empty"),
        pytest.param("admin/", id="relative"),
        pytest.param("https://wiki.example.com/", id="absolute-form"),
        pytest.param("/..", id="above-root"),
        pytest.param("/a/../../etc/passwd", id="climbs-above-root"),
        pytest.param("/admin%2f", id="encoded-slash-lower"),
        pytest.param("/admin%2Fx", id="encoded-slash-upper"),
        pytest.param("/a%5cb", id="encoded-backslash"),
        pytest.param("/public/%2e%2e/admin/", id="encoded-dots"),
        pytest.param("/public/%2E./admin/", id="half-encoded-dots"),
        pytest.param("/a%252fb", id="double-encoded-slash"),
        pytest.param("/a%2525", id="double-encoded-percent"),
        pytest.param("/a%00b", id="encoded-nul"),
        pytest.param("/a%0d%0aSet-Cookie:x", id="encoded-crlf"),
        pytest.param("/a%7fb", id="encoded-del"),
        pytest.param("/a\x00b", id="raw-nul"),
        pytest.param("/a\tb", id="raw-tab"),
        pytest.param("/a\\..\\admin", id="raw-backslash"),
        pytest.param("/\u00fcber", id="raw-non-ascii"),
        pytest.param("/a%ffb", id="not-utf8"),
        pytest.param("/a%c0%afb", id="overlong-utf8-slash"),
        pytest.param("/a%e2%80%8bb", id="zero-width-space"),
        pytest.param("/" + "a" * MAX_PATH_LENGTH, id="too-long"),
    ],
)
def test_refused(target: str) -> None:
    with pytest.raises(UnsafePath):
        normalise_path(target)

"""Keystile served below a path (``SCRIPT_NAME``, e.g. ``/keystile``): the browser scripts
learn the root from the page and put it before every path of Keystile's they request."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from app.resources import STATIC


def test_pages_tell_the_scripts_their_root(client: FlaskClient) -> None:
    page = client.get("/login", base_url="https://localhost/keystile").get_data(as_text=True)
    assert '<meta name="keystile-root" content="/keystile">' in page
    assert 'src="/keystile/static/js/' in page


def test_at_the_top_the_root_is_empty(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<meta name="keystile-root" content="">' in page


def test_no_script_requests_a_bare_root_path() -> None:
    """Every request the scripts make goes through ``postJSON``/``getJSON`` (which prefix the
    root) or ``appUrl``; a literal path handed to ``fetch`` or ``location`` would miss it."""
    from pathlib import Path

    for script in sorted(Path(STATIC, "js").glob("*.js")):
        source = script.read_text()
        assert not re.search(r"fetch\(\s*[\"'`]/", source), script.name
        assert not re.search(r"location\.(assign|replace|href)\W+[\"'`]/", source), script.name
        assert not re.search(r"\|\|\s*[\"'`]/", source), script.name

"""Keystile's pages name the protected hosts in ``form-action`` (CSP Level 3 §6.4.1).

A password sign-in is a form whose answer redirects, through ``/gate/continue``, to the
protected host; Chromium holds every redirect of a form submission to the submitting page's
``form-action``, so with ``'self'`` alone the browser stops at the sign-in page
(tests/e2e/proxies/test_forward_auth_browser.py shows it in a real browser).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.support.gate import gate_settings


def form_action(client: FlaskClient, path: str) -> str:
    policy = client.get(path).headers["Content-Security-Policy"]
    (directive,) = [d.strip() for d in policy.split(";") if d.strip().startswith("form-action")]
    return directive


class TestWithRules:
    @pytest.fixture
    def app_overrides(self, tmp_path: Path) -> dict[str, Any]:
        return gate_settings(tmp_path)

    def test_pages_name_every_protected_host_https_only(self, client: FlaskClient) -> None:
        assert form_action(client, "/login") == (
            "form-action 'self' https://*.example.com:* https://tools.example.org:* "
            "https://wiki.example.com:*"
        )

    def test_other_directives_are_unchanged(self, client: FlaskClient) -> None:
        policy = client.get("/login").headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert policy.count("form-action") == 1


def test_without_rules_forms_go_to_keystile_only(client: FlaskClient) -> None:
    assert form_action(client, "/login") == "form-action 'self'"

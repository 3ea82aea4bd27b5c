"""Keystile: one sign-in flow for client certificates, passkeys and passwords.

``create_app()`` only wires things together: settings, database, extensions, blueprints
and the CLI. Behaviour lives in ``app.services`` (plain Python) and the blueprints.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from app.config import ConfigError, Settings, load_settings


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Keystile application.

    Args:
        test_config: setting overrides by field name (see :class:`app.config.Settings`).
    """
    from app.resources import STATIC, TEMPLATES

    app = Flask(
        __name__, instance_relative_config=True, static_folder=STATIC, template_folder=TEMPLATES
    )
    try:
        settings = load_settings(
            overrides={"instance_path": app.instance_path, **(test_config or {})}
        )
    except ConfigError as exc:
        print(f"keystile: invalid configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app.instance_path = settings.instance_path
    _configure_flask(app, settings)
    _wire(app, settings)
    return app


def _configure_flask(app: Flask, settings: Settings) -> None:
    from urllib.parse import urlsplit

    from app.web.cookie_session import CookieSessions

    app.config.update(
        SECRET_KEY=settings.secret_key,
        SECRET_KEY_FALLBACKS=list(settings.secret_key_fallbacks),
        SESSION_COOKIE_NAME="__Host-keystile",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
        MAX_CONTENT_LENGTH=256 * 1024,
        MAX_FORM_MEMORY_SIZE=256 * 1024,
        PREFERRED_URL_SCHEME=urlsplit(settings.origin).scheme,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = CookieSessions()
    # A number in a URL beyond what an id column holds is a 404, not a database error.
    app.url_map.converters["int"] = BoundedInt


class BoundedInt(IntegerConverter):
    """``<int:...>`` limited to what an id column can hold (:data:`app.models.base.MAX_ID`)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        from app.models.base import MAX_ID

        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def _wire(app: Flask, settings: Settings) -> None:
    from app import cli, db
    from app.account import bp as account_bp
    from app.admin import bp as admin_bp
    from app.auth import bp as auth_bp
    from app.certs import bp as certs_bp
    from app.edge import SignInEdge
    from app.gate import bp as gate_bp
    from app.gate import handoff_bp, jwks_bp
    from app.health import bp as health_bp
    from app.services.access import AccessRules, load_rules
    from app.services.assertion import AssertionKeys
    from app.services.cert_auth import PolicySource
    from app.services.hash_budget import HashBudget, default_slots
    from app.services.notices import Mailer
    from app.services.passwords import HashParameters, Passwords
    from app.services.policy import CertSunset
    from app.web import (
        auth_state,
        csrf,
        forms,
        migration_notice,
        origin,
        security,
        throttle,
        wording,
    )
    from app.web.proxy_scheme import TrustedProxyScheme
    from app.webauthn import bp as webauthn_bp

    app.extensions["keystile.settings"] = settings
    budget = HashBudget(settings.hash_slots or default_slots(), settings.hash_wait_ms / 1000)
    app.extensions["keystile.hash_budget"] = budget
    app.extensions["keystile.passwords"] = Passwords(
        HashParameters(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        ),
        site_name=settings.rp_name,
        hashing_threads=max(4, budget.slots),  # never fewer threads than the budget's slots
    )
    app.extensions["keystile.mailer"] = Mailer(settings.smtp_url, settings.mail_from)
    db.init_app(app, settings.database_url or db.default_database_url(app.instance_path))

    # Origin first: a request from another site is refused as that, not as a missing token.
    app.before_request(origin.refuse_foreign_origin)
    app.before_request(csrf.protect)
    app.add_template_global(csrf.page_token, "csrf_token")
    throttle.init_app(app, settings)
    auth_state.init_app(app)

    app.extensions["keystile.access_rules"] = (
        load_rules(settings.access_rules) if settings.access_rules else AccessRules()
    )
    app.extensions["keystile.assertion_keys"] = AssertionKeys(
        key_file=settings.gate_assertion_key,
        instance_path=settings.instance_path,
        previous=settings.gate_assertion_previous_keys,
    )
    app.extensions["keystile.cert_policy"] = PolicySource(
        client_ca=settings.client_ca,
        crls=settings.client_crl,
        mapping=settings.cert_mapping,
        sunset=CertSunset(settings.cert_sunset, settings.cert_sunset_grace_days),
    )
    for bp in (
        auth_bp,
        account_bp,
        admin_bp,
        certs_bp,
        webauthn_bp,
        gate_bp,
        handoff_bp,
        health_bp,
        jwks_bp,
    ):
        app.register_blueprint(bp)
    app.context_processor(migration_notice.context)
    app.add_template_global(forms.render_input)
    app.add_template_global(forms.first_error)
    app.add_template_global(forms.has_form_errors)
    app.add_template_filter(wording.reason_text)
    app.add_template_filter(wording.browser_summary)
    app.add_template_global(wording.event_text)
    app.add_template_global(wording.attestation_text)
    app.add_template_filter(wording.pin_source_text)
    app.after_request(security.add_security_headers)
    app.before_request(security.refuse_nul_bytes)
    app.before_request(security.refuse_json_on_forms)
    security.register_error_handlers(app)
    cli.register(app)
    inner = SignInEdge(app, app.wsgi_app) if settings.sign_in_edge else app.wsgi_app
    app.wsgi_app = TrustedProxyScheme(inner, settings.trusted_proxies)  # type: ignore[method-assign]
    logging.getLogger("app").setLevel(logging.INFO)

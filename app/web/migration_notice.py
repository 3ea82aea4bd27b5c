"""The account page's migration notice: from a certificate file to a hardware-backed key.

A context processor for ``account.index`` only; the decision itself is the pure
``app.services.policy.migration_advice``.
"""

from __future__ import annotations

from typing import Any

from flask import request

from app.models import User, utcnow
from app.services.policy import CertSunset, migration_advice, needs_hardware_key
from app.web.auth_state import current_session
from app.web.context import settings
from app.web.forms import ActionForm


def sunset() -> CertSunset:
    s = settings()
    return CertSunset(s.cert_sunset, s.cert_sunset_grace_days)


def context() -> dict[str, Any]:
    if request.endpoint != "account.index":
        return {}
    row = current_session()
    if row is None:
        return {}
    user: User = row.user
    advice = migration_advice(
        user.credentials,
        signed_in_with_certificate=row.method == "certificate",
        sunset=sunset(),
        now=utcnow(),
        hardware_required=needs_hardware_key(str(user.role), settings().require_hardware_key_for),
    )
    return {"migration": advice, "migration_form": ActionForm(formdata=None)}

"""Admin: the dashboard (credential mix, sign-ins, failures, migration funnel, policies)."""

from __future__ import annotations

from flask import render_template, request

from app.admin import charts
from app.admin.views import bp
from app.db import get_db
from app.models import Strength, utcnow
from app.services import dashboard as numbers
from app.services.policy import CertSunset
from app.web.auth_state import admin_required
from app.web.context import settings
from app.web.wording import reason_text

WINDOWS = (7, 30, 90)
#: the funnel's steps: no credential, then each strength in its order (Strength.label)
FUNNEL_LABELS: dict[Strength | None, str] = {
    None: "no credential",
    Strength.PASSWORD: "password only",
    **{s: s.label for s in Strength if s is not Strength.PASSWORD},
}


@bp.get("/")
@admin_required
def dashboard() -> str:
    days = request.args.get("days", type=int) or 30
    days = days if days in WINDOWS else 30
    db, now, s = get_db(), utcnow(), settings()
    people = numbers.population(db, hardware_roles=s.require_hardware_key_for)
    failures = numbers.failures_by_reason(db, now=now, days=days)
    funnel = [(FUNNEL_LABELS[k], people.funnel.get(k, 0)) for k in FUNNEL_LABELS]
    sunset = CertSunset(s.cert_sunset, s.cert_sunset_grace_days)
    return render_template(
        "admin/dashboard.html",
        days=days,
        windows=WINDOWS,
        people=people,
        sunset=sunset,
        stage=sunset.stage(now),
        mix=charts.small_multiples(
            "credential-mix",
            "Live credentials by strength, per day",
            numbers.credential_mix(db, now=now, days=days, current=people.live_credentials),
        ),
        sign_ins=charts.small_multiples(
            "sign-ins",
            "Successful sign-ins per method, per day",
            numbers.sign_ins_per_method(db, now=now, days=days),
        ),
        failures=charts.bar_chart(
            "failures",
            f"Failed sign-ins by reason, last {days} days",
            [(f"{f.method}: {reason_text(f.reason)}", f.count) for f in failures],
        ),
        funnel=charts.bar_chart(
            "funnel",
            "Active users by strongest credential",
            funnel,
            css=[f"strength-{k.value if k else 0}" for k in FUNNEL_LABELS],
        ),
    )

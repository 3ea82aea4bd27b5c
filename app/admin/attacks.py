"""Admin: the attack figures of the last hour, as a partial of the dashboard
(``admin/_attacks.html``), from :func:`app.services.attacks.attack_report`."""

from __future__ import annotations

from app.admin.views import bp
from app.db import get_db
from app.models import utcnow
from app.services.attacks import AttackReport, attack_report


@bp.app_template_global()
def attack_figures() -> AttackReport:
    return attack_report(get_db(), now=utcnow())

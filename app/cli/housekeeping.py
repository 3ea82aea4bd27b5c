"""``keystile housekeeping``: delete expired sessions, links and challenges (cron-safe)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.db import get_db
from app.models import utcnow
from app.services import housekeeping
from app.web.context import session_timeouts


@click.command("housekeeping")
@with_appcontext
def housekeeping_cmd() -> None:
    """Delete sessions, one-time links, passkey challenges and device tokens that stopped
    working.

    Safe to run from cron on every instance at once; each run is audited with its counts.
    """
    removed = housekeeping.run(get_db(), now=utcnow(), timeouts=session_timeouts())
    click.echo(
        f"removed {removed.sessions} sessions, {removed.gate_sessions} protected-host sessions, "
        f"{removed.links} one-time links, {removed.challenges} passkey challenges, "
        f"{removed.devices} device tokens"
    )


COMMANDS = [housekeeping_cmd]

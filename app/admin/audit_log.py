"""Admin: the audit log with filters, and its streamed export (CSV or JSON Lines)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from flask import Response, abort, render_template, request, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from app.admin.forms import AuditFilterForm
from app.admin.views import bp, current_admin, require_recent
from app.db import get_db
from app.models import utcnow
from app.services import audit_queries
from app.services.audit import Event, record
from app.services.audit_queries import AuditFilter, Cursor, ExportFormat
from app.web.auth_state import admin_required
from app.web.client import current_client

FILTER_FIELDS = frozenset({"user", "method", "event", "outcome", "since", "until"})


def _filter(form: AuditFilterForm) -> AuditFilter:
    since, until = form.bounds()
    return AuditFilter(
        username=(form.user.data or "").strip(),
        method=form.method.data or "",
        tag=form.event.data or "",
        outcome=form.outcome.data or "",
        since=since,
        until=until,
    )


@bp.get("/audit")
@admin_required
def audit() -> tuple[str, int]:
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template("admin/audit.html", form=form, page=None, query={}), 400
    flt = _filter(form)
    after = Cursor.decode(request.args.get("after", ""))
    page = audit_queries.page(get_db(), flt, after=after)
    # Only the filter's own fields go back into links: other names would reach url_for()
    # as its keyword arguments (format, endpoint, _external, _method...).
    query = {k: v for k, v in request.args.items() if k in FILTER_FIELDS and v}
    return render_template("admin/audit.html", form=form, page=page, query=query), 200


@bp.get("/audit/export")
@admin_required
def audit_export() -> BaseResponse | tuple[str, int]:
    """Stream every event matching the filter; the export itself is audited."""
    form = AuditFilterForm(request.args)
    try:
        fmt = ExportFormat(request.args.get("format", "csv"))
    except ValueError:
        abort(400)
    if not form.validate():
        abort(400)
    query = {k: v for k, v in request.args.items() if k != "format" and v}
    if (again := require_recent(f"{url_for('admin.audit')}?{urlencode(query)}")) is not None:
        return again
    flt = _filter(form)
    db = get_db()
    record(
        db,
        Event.ADMIN_ACTION,
        client=current_client(),
        success=True,
        actor=current_admin(),
        details={"action": "audit_export", "format": fmt.value, "filter": flt.as_query()},
    )
    db.commit()
    name = f"keystile-audit-{utcnow():%Y%m%dT%H%M%SZ}.{fmt.value}"

    def body() -> Iterator[str]:
        # The stream outlives the view: end its read transaction (and free the server-side
        # cursor's locks) as soon as the last row is out or the client goes away.
        try:
            yield from audit_queries.export(db, flt, fmt)
        finally:
            db.close()

    return Response(
        stream_with_context(body()),
        mimetype=fmt.mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

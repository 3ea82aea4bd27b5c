"""Admin forms: GET filters (no CSRF: they change nothing) and action buttons (CSRF)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length, Optional

from app.services.audit_queries import Outcome, known_tags, parse_bound
from app.services.reports import MAX_SEARCH, UserFilter
from app.web.forms import PostedForm

METHODS = ("password", "certificate", "passkey")


def _choices(values: Sequence[str]) -> list[SelectChoice]:
    return [SelectChoice("", "any"), *(SelectChoice(v) for v in values)]


class _GetForm(FlaskForm):
    """A filter form read from the query string."""

    class Meta:
        csrf = False


class UserSearchForm(_GetForm):
    q = StringField(
        "Search",
        validators=[Optional(), Length(max=MAX_SEARCH)],
        render_kw={"type": "search", "placeholder": "name, username or e-mail"},
    )
    filter = SelectField(
        "Show",
        choices=[SelectChoice(f.value, f.label) for f in UserFilter],
        default="",
        validate_choice=True,
    )


def _bound(end: bool) -> object:
    def check(_form: FlaskForm, field: StringField) -> None:
        try:
            parse_bound(field.data or "", end=end)
        except ValueError:
            raise ValidationError("Use a date like 2026-01-31 or 2026-01-31T14:00.") from None

    return check


class AuditFilterForm(_GetForm):
    user = StringField("User", validators=[Optional(), Length(max=64)])
    method = SelectField("Method", choices=_choices(METHODS), default="")
    event = SelectField("Event", default="")
    outcome = SelectField("Outcome", choices=_choices([o.value for o in Outcome]), default="")
    since = StringField(
        "From (UTC)",
        validators=[Optional(), Length(max=32), _bound(False)],
        render_kw={"placeholder": "YYYY-MM-DD"},
    )
    until = StringField(
        "Until (UTC, inclusive date)",
        validators=[Optional(), Length(max=32), _bound(True)],
        render_kw={"placeholder": "YYYY-MM-DD"},
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.event.choices = _choices(known_tags())

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        return (parse_bound(self.since.data or ""), parse_bound(self.until.data or "", end=True))


class RevokeForm(PostedForm):
    reason = StringField(
        "Reason", validators=[Optional(), Length(max=200)], default="revoked by an administrator"
    )


class GroupForm(PostedForm):
    """Add a user to a group, or take them out (the service checks the name)."""

    group = StringField(
        "Group",
        validators=[DataRequired(), Length(max=63)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )

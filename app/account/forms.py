from __future__ import annotations

from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from app.services.passwords import MAX_LENGTH
from app.web.forms import PostedForm


class ChangePasswordForm(PostedForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=MAX_LENGTH + 1)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), Length(max=MAX_LENGTH + 1)],
        render_kw={"autocomplete": "new-password"},
    )


class RenameForm(PostedForm):
    label = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=100)])

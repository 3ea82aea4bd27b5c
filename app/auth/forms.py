"""Forms of the sign-in area (CSRF token included: app.web.csrf)."""

from __future__ import annotations

from wtforms import EmailField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.services.passwords import MAX_LENGTH
from app.web.forms import PostedForm


class LoginForm(PostedForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Enter your username."), Length(max=256)],
        render_kw={
            "autocomplete": "username webauthn",
            "autocapitalize": "none",
            "spellcheck": "false",
        },
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password."), Length(max=MAX_LENGTH + 1)],
        render_kw={"autocomplete": "current-password"},
    )


class RequestAccountForm(PostedForm):
    username = StringField(
        "Username",
        validators=[DataRequired("Choose a username."), Length(max=64)],
        render_kw={"autocomplete": "username"},
    )
    display_name = StringField(
        "Your name", validators=[Optional(), Length(max=128)], render_kw={"autocomplete": "name"}
    )
    email = EmailField(
        "E-mail address",
        validators=[DataRequired("Enter an e-mail address."), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )
    message = TextAreaField(
        "Why you need an account (optional)", validators=[Optional(), Length(max=2000)]
    )

"""app.web.forms.render_input: the same HTML as WTForms, remembered only for empty inputs."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict
from wtforms import Form, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from app.web import forms
from app.web.forms import render_input

ATTRS = {"aria-invalid": "false", "aria-describedby": ""}


class SignIn(Form):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "username webauthn"},
    )
    password = PasswordField("Password", validators=[DataRequired()])
    method = SelectField("Method", choices=[SelectChoice("a", "A"), SelectChoice("b", "B")])


def test_empty_inputs_render_as_wtforms_does_and_are_remembered() -> None:
    forms._remembered.clear()
    first, second = SignIn(), SignIn()
    html = render_input(first.username, **ATTRS)
    assert html == first.username(**ATTRS)
    assert 'autocomplete="username webauthn"' in html and "required" in html
    assert 'maxlength="256"' in html and 'value=""' in html
    assert render_input(second.username, **ATTRS) is html  # kept, not rendered again
    assert render_input(first.password, **ATTRS) == first.password(**ATTRS)
    # Other attributes are another definition.
    other = render_input(second.username, **{**ATTRS, "aria-describedby": "username-hint"})
    assert 'aria-describedby="username-hint"' in other and other is not html


def test_a_value_an_error_or_another_widget_renders_as_usual() -> None:
    forms._remembered.clear()
    filled = SignIn(MultiDict({"username": '<alice">', "password": "secret"}))
    html = render_input(filled.username, **ATTRS)
    assert 'value="&lt;alice&#34;&gt;"' in html
    assert 'value=""' in render_input(filled.password, **ATTRS)  # never shown again
    failed = SignIn(MultiDict({"username": ""}))
    failed.validate()
    assert failed.username.errors
    assert render_input(failed.username, **{**ATTRS, "aria-invalid": "true"}) == failed.username(
        **{**ATTRS, "aria-invalid": "true"}
    )
    assert render_input(SignIn().method) == SignIn().method()
    # Only the filled-in password (rendered empty) could be remembered, never a value.
    assert all("alice" not in str(v) for v in forms._remembered.values())

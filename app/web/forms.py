"""Forms every blueprint shares, and how their inputs are rendered."""

from __future__ import annotations

from typing import Any, ClassVar

from flask import g, request
from flask_wtf import FlaskForm
from flask_wtf.form import SUBMIT_METHODS
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import Field, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length
from wtforms.widgets import EmailInput, PasswordInput, SearchInput, TextInput

from app.services.passwords import MAX_LENGTH
from app.web.csrf import SessionCSRF

_FROM_REQUEST: Any = object()


class PostedForm(FlaskForm):
    """A form a browser posts: text fields read only the body's text parts (``request.form``),
    file fields only the file parts named in :attr:`file_fields`.

    Flask-WTF on its own also fills fields from a JSON body and from any file part, so that a
    number, an object or an uploaded file reached validators written for text (a 500), and
    the throttles, which read ``request.form``, counted another username than the one the
    form checked.
    """

    class Meta:
        csrf_class = SessionCSRF  # the one CSRF check (app.web.csrf), not Flask-WTF's own

    #: names of the fields that take an uploaded file
    file_fields: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, formdata: Any = _FROM_REQUEST, **kwargs: Any) -> None:
        if formdata is _FROM_REQUEST:
            formdata = self._posted()
        super().__init__(formdata=formdata, **kwargs)

    @classmethod
    def _posted(cls) -> Any:
        if request.method not in SUBMIT_METHODS:
            return None
        if not cls.file_fields:
            return request.form
        files = MultiDict(
            [
                (name, value)
                for name, value in request.files.items(multi=True)
                if name in cls.file_fields
            ]
        )
        return CombinedMultiDict((files, request.form))


class ActionForm(PostedForm):
    """A button that changes something: only the CSRF token."""


class NewPasswordForm(PostedForm):
    """A password chosen twice: on an enrolment link and as an account's first password.
    The service checks the rules (SP 800-63B-4); the form only that the two agree."""

    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password."), Length(max=MAX_LENGTH + 1)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            DataRequired("Repeat the password."),
            Length(max=MAX_LENGTH + 1),
            EqualTo("password", "The two passwords are not the same."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


#: widgets whose output depends only on the field's definition when the field is empty
_PLAIN_INPUTS = frozenset({TextInput, PasswordInput, EmailInput, SearchInput})
_MAX_REMEMBERED = 256
_remembered: dict[tuple[Any, ...], Markup] = {}


@pass_context
def has_form_errors(context: Context) -> bool:
    """Whether a form on the page being rendered reports an error: the page's title then
    starts with "Error: ", which a screen reader announces first (WCAG 2.2 SC 3.3.1, as the
    GOV.UK Design System does)."""
    return any(
        isinstance(value, FlaskForm) and any(field.errors for field in value)
        for value in context.get_all().values()
    )


def first_error() -> bool:
    """True once per request: for the first field with an error, which takes the focus."""
    if g.get("first_error_taken"):
        return False
    g.first_error_taken = True
    return True


def render_input(field: Field, **attrs: Any) -> Markup:
    """``field(**attrs)``, remembered for an empty text, password, e-mail or search input.

    Such an input, holding no value and no error, renders the same every time: only its
    definition (id, name, widget, flags, ``render_kw``) and ``attrs`` go in. WTForms' widget
    rendering is a large part of the sign-in page's time, so that HTML is kept per
    definition; any other field, or one with a value or an error, renders as usual.
    """
    widget = type(field.widget)
    if widget not in _PLAIN_INPUTS or field.errors or field.raw_data or field.data:
        return _render(field, attrs)
    key = (
        type(field),
        widget,
        field.id,
        field.name,
        _frozen(field.render_kw),
        _frozen(vars(field.flags)),
        _frozen(attrs),
    )
    html = _remembered.get(key)
    if html is None:
        html = _render(field, attrs)
        if len(_remembered) < _MAX_REMEMBERED:
            _remembered[key] = html
    return html


def _render(field: Field, attrs: dict[str, Any]) -> Markup:
    html: Markup = field(**attrs)  # WTForms escapes every value it writes
    return html


def _frozen(mapping: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((mapping or {}).items()))

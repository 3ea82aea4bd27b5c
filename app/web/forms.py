"""Forms every blueprint shares, and how their inputs are rendered."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import Field
from wtforms.widgets import EmailInput, PasswordInput, SearchInput, TextInput


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


#: widgets whose output depends only on the field's definition when the field is empty
_PLAIN_INPUTS = frozenset({TextInput, PasswordInput, EmailInput, SearchInput})
_MAX_REMEMBERED = 256
_remembered: dict[tuple[Any, ...], Markup] = {}


def render_input(field: Field, **attrs: Any) -> Markup:
    """``field(**attrs)``, remembered for an empty text, password, e-mail or search input.

    Such an input, holding no value and no error, renders the same every time: only its
    definition (id, name, widget, flags, ``render_kw``) and ``attrs`` go in. WTForms' widget
    rendering was a third of the sign-in page's time, so that HTML is kept per definition;
    any other field, or one with a value or an error, renders as usual.
    """
    widget = type(field.widget)
    if widget not in _PLAIN_INPUTS or field.errors or field.raw_data or field.data:
        return _render(field, attrs)
    key = (type(field), widget, field.id, field.name, _frozen(field.render_kw),
           _frozen(vars(field.flags)), _frozen(attrs))
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

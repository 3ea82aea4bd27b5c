"""Who a forward-auth check is about, and the identity headers the gate answers with.

Plain Python: the web layer finds the session or the certificate; this module turns the
user behind it into an access-rule :class:`~app.services.access.Subject` and into the
``Remote-*`` headers. All six headers are always sent, empty when unknown or on a bypass
rule, so that a proxy copying them always overwrites whatever a client sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from app.models import Credential, Strength, StrengthFlag, User
from app.models.base import connection_of
from app.services import groups
from app.services.access import Subject, strength_name
from app.services.stored import StoredCertificate

#: a user's identity fields and the names of their groups, comma-separated
_USER_WITH_GROUPS = select(
    User.username,
    User.username_normalized,
    User.role,
    User.email,
    User.display_name,
    groups.names_of(User.id),
).where(User.id == bindparam("user_id"))

#: the identity headers, in the order they are sent
HEADERS = (
    "Remote-User",
    "Remote-Groups",
    "Remote-Email",
    "Remote-Name",
    "Remote-Auth-Method",
    "Remote-Auth-Strength",
)


@dataclass(frozen=True)
class Identity:
    """A signed-in person as the gate reports them."""

    subject: Subject
    email: str
    display_name: str
    method: str  #: password | certificate | passkey


def identity_of(
    db: Session, user: User, *, strength: Strength | None, method: str, signed_in_at: datetime
) -> Identity:
    """The identity of ``user``, signed in at ``signed_in_at`` by ``method``.

    ``strength`` is the credential's (None when it is revoked or unknown: a rule needing
    any strength then asks for a new sign-in).
    """
    return _identity(
        username=user.username,
        username_normalized=user.username_normalized,
        role=str(user.role),
        email=user.email,
        display_name=user.display_name,
        groups=frozenset(groups.of_user(db, user.id)),
        strength=strength,
        method=method,
        signed_in_at=signed_in_at,
    )


def identity_of_user(
    db: Session, user_id: int, *, strength: Strength | None, method: str, signed_in_at: datetime
) -> Identity | None:
    """:func:`identity_of` for a user known by id (a certificate shown with the check):
    the user's fields and groups in one plain query; None if the user is gone."""
    found = connection_of(db).execute(_USER_WITH_GROUPS, {"user_id": user_id}).first()
    if found is None:
        return None
    return _identity(
        username=found.username,
        username_normalized=found.username_normalized,
        role=str(found.role),
        email=found.email,
        display_name=found.display_name,
        groups=_group_set(found.group_names),
        strength=strength,
        method=method,
        signed_in_at=signed_in_at,
    )


def identity_of_pin(
    pin: StoredCertificate, *, strength: Strength | None, method: str, signed_in_at: datetime
) -> Identity:
    """:func:`identity_of` for the owner of a certificate pin, from the row
    :func:`app.services.stored.find_certificate` read (no query of its own)."""
    return _identity(
        username=pin.user.username,
        username_normalized=pin.profile.username_normalized,
        role=str(pin.user.role),
        email=pin.profile.email,
        display_name=pin.profile.display_name,
        groups=_group_set(pin.profile.group_names),
        strength=strength,
        method=method,
        signed_in_at=signed_in_at,
    )


def identity_of_session(live: Row[Any]) -> Identity:
    """The identity behind a live session read as a row of
    :data:`app.services.sessions.LIVE_COLUMNS` and ``IDENTITY_COLUMNS``: the fields
    :func:`identity_of` takes from the loaded user and its groups, and
    :func:`credential_strength` from the loaded credential."""
    revoked = live.kind is None or live.credential_revoked_at is not None
    return _identity(
        username=live.username,
        username_normalized=live.username_normalized,
        role=str(live.role),
        email=live.email,
        display_name=live.display_name,
        groups=_group_set(live.group_names),
        strength=None if revoked else StrengthFlag(live.strength_flag).strength,
        method=live.method,
        signed_in_at=live.created_at,
    )


def _group_set(names: str | None) -> frozenset[str]:
    """The set of :func:`app.services.groups.names_of`'s comma-separated names."""
    return frozenset(names.split(",")) if names else frozenset()


def _identity(
    *,
    username: str,
    username_normalized: str,
    role: str,
    email: str,
    display_name: str,
    groups: frozenset[str],
    strength: Strength | None,
    method: str,
    signed_in_at: datetime,
) -> Identity:
    subject = Subject(
        username=username,
        username_normalized=username_normalized,
        role=role,
        groups=groups,
        strength=strength,
        signed_in_at=signed_in_at,
    )
    return Identity(subject=subject, email=email, display_name=display_name, method=method)


def credential_strength(credential: Credential | None) -> Strength | None:
    """The strength a session's credential proves (None: none, or revoked since)."""
    if credential is None or credential.revoked_at is not None:
        return None
    return credential.strength


def identity_headers(identity: Identity | None) -> dict[str, str]:
    """The six ``Remote-*`` headers; every one empty for None (anonymous or bypass)."""
    if identity is None:
        return dict.fromkeys(HEADERS, "")
    s = identity.subject
    values = (
        s.username,
        ",".join(sorted(s.groups)),
        identity.email,
        identity.display_name,
        identity.method,
        strength_name(s.strength) if s.strength is not None else "",
    )
    return {name: header_value(value) for name, value in zip(HEADERS, values, strict=True)}


def header_value(text: str) -> str:
    """``text`` as a WSGI header value: control characters dropped (no header splitting,
    RFC 9110 §5.5), UTF-8 bytes carried in the latin-1 string WSGI expects (PEP 3333)."""
    clean = text if text.isprintable() else "".join(c for c in text if c.isprintable())
    return clean[:512].encode("utf-8").decode("latin-1")

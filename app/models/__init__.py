"""Keystile's tables. Import models from here."""

from app.models.account import AccountRequest, Notice, OneTimeToken, RequestStatus, TokenPurpose
from app.models.audit import AuditEvent
from app.models.base import Base, table_of, utcnow
from app.models.credential import Credential, CredentialKind, Strength, StrengthFlag
from app.models.device import DeviceToken
from app.models.gate_session import GateSession
from app.models.group import GROUP_NAME, GroupMembership
from app.models.session import AuthSession
from app.models.user import Role, User, UserStatus, new_user_handle, normalize_username

__all__ = [
    "GROUP_NAME",
    "AccountRequest",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Credential",
    "CredentialKind",
    "DeviceToken",
    "GateSession",
    "GroupMembership",
    "Notice",
    "OneTimeToken",
    "RequestStatus",
    "Role",
    "Strength",
    "StrengthFlag",
    "TokenPurpose",
    "User",
    "UserStatus",
    "new_user_handle",
    "normalize_username",
    "table_of",
    "utcnow",
]

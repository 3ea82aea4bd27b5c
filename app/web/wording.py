"""Words for people: audit events, reason codes and user agents as the pages show them.

The audit trail keeps the exact codes and strings; these only phrase them for the person
whose account it is (the full user agent stays in the element's title).
"""

from __future__ import annotations

import re

REASONS = {
    "wrong_password": "wrong password",
    "too_long": "password too long",
    "no_password": "this account has no password",
    "throttled": "too many attempts",
    "busy": "sign-in was too busy",
    "wrong_current_password": "wrong current password",
    "unknown_certificate": "certificate not linked to this account",
    "revoked_pin": "certificate was removed",
    "certificate_sunset": "certificate sign-in has ended",
    "proxy_verify_failed": "certificate not verified",
    "expired": "certificate expired",
    "not_yet_valid": "certificate not valid yet",
    "untrusted_issuer": "certificate from an untrusted issuer",
    "revoked": "certificate revoked by its issuer",
    "code_invalid": "sign-in link expired or already used",
    "code_other_browser": "sign-in link opened in another browser",
    "revoked_credential": "credential was removed",
    "account_disabled": "account disabled",
    "unknown_credential": "passkey not known here",
    "credential_flagged": "passkey flagged as a possible copy",
    "counter_regression": "passkey flagged as a possible copy",
    "bad_challenge": "sign-in request expired",
    "user_handle_mismatch": "passkey belongs to another account",
    "credential_not_allowed": "key not allowed for this account",
}

_BROWSERS = (
    ("Edg/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def reason_text(code: str | None) -> str:
    """A known reason in words; any other code with its underscores as spaces."""
    if not code:
        return ""
    return REASONS.get(code, code.replace("_", " "))


#: ``credentials.attestation_trust`` (app.services.webauthn.attestation), for administrators
ATTESTATION_TRUST = {
    "none": "no attestation: the model is the authenticator's own claim",
    "self": "self-attested: signed by the key itself, which proves nothing about its maker",
    "basic-unverified": "signed by a certificate chain that no known maker's root vouches for",
    "verified": "verified against the maker's root in the FIDO metadata",
}

#: ``credentials.source``: how a certificate came to be pinned
PIN_SOURCES = {
    "handshake": "the user, from the certificate their browser presented",
    "upload": "the user, by uploading the certificate",
    "csr": "Keystile's CA, from the user's signing request",
    "ca": "Keystile's CA (keystile ca issue)",
    "ca-first-use": "first use of a certificate from a trusted CA",
    "operator": "an operator (keystile cert pin)",
}


def attestation_text(fmt: str | None, trust: str | None) -> str:
    """ "packed: verified against the maker's root ..." from a passkey's attestation."""
    words = ATTESTATION_TRUST.get(trust or "none", (trust or "").replace("-", " "))
    if not fmt or fmt == "none":
        return ATTESTATION_TRUST["none"]
    return f"{fmt} format, {words}"


def pin_source_text(source: str | None) -> str:
    return PIN_SOURCES.get(source or "", source or "unknown")


def event_text(tag: str, outcome: str, reason: str | None = None) -> str:
    """What one ``auth:`` audit row was, for the person whose account it is: a sign-in, a
    refused one (and why), or a sign-out (``auth:logout`` is a success too, and is no
    sign-in)."""
    if tag == "auth:logout":
        return "signed out"
    if tag == "auth:certificate:header_ignored":
        return "certificate ignored: " + (reason_text(reason) or "not from a trusted proxy")
    if outcome == "success":
        return "signed in"
    why = reason_text(reason)
    return f"sign-in refused: {why}" if why else "sign-in refused"


def browser_summary(user_agent: str | None) -> str:
    """``Chrome on Linux`` from a user agent string; what is not recognised is shortened."""
    agent = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in agent), None)
    system = next((name for token, name in _SYSTEMS if token in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return str(browser or system)
    return _PRINTABLE.sub("", agent)[:40] or "unknown"

"""Certificate sign-in attempts through a real proxy and what each ends in.

An outcome is read from the response, ``/api/session`` and the audit rows the attempt wrote:

- ``signed in: NAME``: ``/api/session`` says method ``certificate`` with the credential
  pinned for certificate NAME (straight to gunicorn, over http, the audit row says it);
- ``refused: REASON``: the page shows what is wrong; the audit row has that reason;
- ``ignored: REASON``: the certificate headers were ignored and audited (threat model A.1-2);
- ``no certificate``: the login page says no certificate was presented; nothing audited;
- ``handshake refused``: the proxy ended the TLS handshake.

Every attempt also sends a forged ``X-Forwarded-For`` and ``X-Request-Id``: through a proxy,
audit rows must still name the real client (127.0.0.1) and the proxy's own request id, and
the page must carry HSTS, which Keystile sends when the proxy says ``X-Forwarded-Proto: https``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import httpx

from tests.e2e.proxies.conftest import Stack
from tests.unit.proxy.conftest import Wire

#: The proxy's address as gunicorn sees it, in KEYSTILE_TRUSTED_PROXIES; also the client's.
PROXY_ADDRESS = "127.0.0.1"
SPOOFED_CLIENT = "203.0.113.66"
SPOOFED_REQUEST_ID = "forged-request-id"
FAILURE = "auth:certificate:failure"
IGNORED = "auth:certificate:header_ignored"
SUCCESS = "auth:certificate:success"


@dataclass(frozen=True)
class Attempt:
    """One way of arriving at ``GET /login``."""

    #: the certificate the client presents in the TLS handshake
    identity: str | None = None
    #: certificate headers the client forges, carrying the variant's signing-in certificate:
    #: those of the proxy's own format, or those of every other format
    forge: Literal["own", "others"] | None = None
    #: skip the proxy: send the request straight to gunicorn from this source address
    straight_from: str | None = None


#: The pinned certificate that signs in in each variant; forged headers carry it.
SIGNS_IN = {"pinned": "self_signed", "ca": "good"}

PINNED = {
    "pinned self-signed certificate": (Attempt("self_signed"), "signed in: self_signed"),
    "expired certificate (pinned)": (Attempt("expired"), "refused: expired"),
    "certificate of another CA, not pinned": (
        Attempt("other_ca_client"),
        "refused: unknown_certificate",
    ),
    "no certificate": (Attempt(), "no certificate"),
    "own format's headers forged through the proxy": (Attempt(forge="own"), "no certificate"),
    "other formats' headers forged through the proxy": (Attempt(forge="others"), "no certificate"),
    "own format's headers forged beside another certificate": (
        Attempt("other_ca_client", forge="own"),
        "refused: unknown_certificate",
    ),
    "forged headers straight to gunicorn, from a peer not trusted": (
        Attempt(forge="own", straight_from="127.0.0.2"),
        "ignored: untrusted_peer",
    ),
    # The control: the same forgery from the proxy's own address is believed. That is why
    # the app server listens on loopback only, and why KEYSTILE_PROXY_SECRET exists.
    "forged headers straight to gunicorn, from the proxy's address": (
        Attempt(forge="own", straight_from=PROXY_ADDRESS),
        "signed in: self_signed",
    ),
}

CA_MODE = {
    "CA-issued certificate (pinned)": (Attempt("good"), "signed in: good"),
    "revoked certificate (pinned, on the CRL)": (Attempt("revoked"), "refused: revoked"),
    "certificate of another CA (pinned)": (Attempt("other_ca_client"), "refused: untrusted_issuer"),
    "self-signed certificate (pinned)": (Attempt("self_signed"), "refused: untrusted_issuer"),
    "expired certificate (pinned)": (Attempt("expired"), "refused: expired"),
    "no certificate": (Attempt(), "no certificate"),
    "own format's headers forged through the proxy": (Attempt(forge="own"), "no certificate"),
    "other formats' headers forged through the proxy": (Attempt(forge="others"), "no certificate"),
    "own format's headers forged beside another certificate": (
        Attempt("other_ca_client", forge="own"),
        "refused: untrusted_issuer",
    ),
    "forged headers straight to gunicorn, without the proxy secret": (
        Attempt(forge="own", straight_from=PROXY_ADDRESS),
        "ignored: bad_proxy_secret",
    ),
}

#: Where a proxy cannot do what the table says, and why.
DEVIATIONS = {
    # mod_ssl's optional_no_ca forgives an unknown issuer but not an expired certificate
    # (its ssl_verify_error_is_optional): the handshake ends with a "certificate expired"
    # alert, so a browser shows its own error page instead of Keystile's.
    ("apache", "expired certificate (pinned)"): "handshake refused",
}


def forged_headers(stack: Stack, which: Literal["own", "others"] | None) -> list[tuple[str, str]]:
    """Certificate headers as each format's proxy would send them, carrying the certificate
    that signs in (``tests/unit/proxy``'s encoders), with a successful verdict."""
    if which is None:
        return []
    cert = getattr(stack.tls.pki, SIGNS_IN[stack.spec.variant]).cert
    formats = (
        [stack.spec.proxy]
        if which == "own"
        else [
            fmt
            for fmt in Wire.formats
            if fmt != stack.spec.proxy
            # nginx and Apache share their header names: one is not "another format" of the other
            and {fmt, stack.spec.proxy} != {"nginx", "apache"}
        ]
    )
    # h11 refuses the trailing space of the Apache encoding; Apache itself sends none.
    return [
        (name, value.strip())
        for fmt in formats
        for name, value in Wire.encode_certificate(fmt, cert)
    ]


def observe(stack: Stack, attempt: Attempt) -> str:
    """Make the attempt and say what came of it (see the module docstring)."""
    headers = [
        *forged_headers(stack, attempt.forge),
        ("X-Forwarded-For", SPOOFED_CLIENT),
        ("X-Request-Id", SPOOFED_REQUEST_ID),
    ]
    before = stack.last_audit_id()
    straight = attempt.straight_from is not None
    client = (
        stack.app_client(attempt.straight_from)
        if attempt.straight_from
        else stack.client(attempt.identity)
    )
    with client:
        try:
            page = client.get("/login", headers=headers)
        except httpx.TransportError as exc:
            if "alert" in str(exc):  # an alert from the proxy, not a test set-up problem
                return "handshake refused"
            raise
        session = None if straight else client.get("/api/session")
    rows = [row for row in stack.audit_after(before) if row.method == "certificate"]
    outcome = _outcome(stack, page, session, rows)
    # Keystile believes X-Forwarded-For only from a trusted peer: the proxy, or the control.
    addresses = {row.address for row in rows} - {attempt.straight_from or PROXY_ADDRESS}
    if addresses and attempt.straight_from != PROXY_ADDRESS:
        outcome += f" (audited as coming from {', '.join(sorted(addresses))})"
    if not straight and any(row.request_id == SPOOFED_REQUEST_ID for row in rows):
        outcome += " (audited with the client's request id)"
    if not straight and "strict-transport-security" not in page.headers:
        outcome += " (no HSTS: the proxy did not say X-Forwarded-Proto: https)"
    return outcome


def _outcome(
    stack: Stack, page: httpx.Response, session: httpx.Response | None, rows: list[Any]
) -> str:
    tags = [row.tag for row in rows]
    pinned = {cred_id: name for name, cred_id in stack.pins.items()}
    if tags == [SUCCESS]:
        if session is None:
            return f"signed in: {pinned.get(rows[0].credential_id)}"
        data = session.json()
        if session.status_code == 200 and data["method"] == "certificate":
            return f"signed in: {pinned.get(data['credential_id'])}"
        return f"audited a sign-in, but /api/session says {data}"
    if tags == [FAILURE]:
        shown = 'id="certificate-problem"' in page.text
        return f"refused{'' if shown else ' without saying why'}: {rows[0].reason}"
    if tags == [IGNORED]:
        return f"ignored: {rows[0].reason}"
    if not tags and page.status_code == 200 and "not presenting a client certificate" in page.text:
        return "no certificate"
    return f"unexpected: HTTP {page.status_code}, audit {[(r.tag, r.reason) for r in rows]}"


def expected_outcomes(stack: Stack, table: dict[str, tuple[Attempt, str]]) -> dict[str, str]:
    return {
        case: DEVIATIONS.get((stack.spec.proxy, case), outcome)
        for case, (_, outcome) in table.items()
    }


def run_table(stack: Stack, table: dict[str, tuple[Attempt, str]]) -> None:
    observed = {case: observe(stack, attempt) for case, (attempt, _) in table.items()}
    assert observed == expected_outcomes(stack, table)

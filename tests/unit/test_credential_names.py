"""What an unnamed credential is called on the pages: from what it said about itself."""

from __future__ import annotations

import pytest

from app.models import Credential, CredentialKind


@pytest.mark.parametrize(
    ("transports", "synced", "model", "shown"),
    [
        (["usb", "nfc"], False, None, "Security key"),
        (["internal"], False, None, "Passkey on this device"),
        (["hybrid"], False, None, "Passkey on a phone"),
        (["internal", "hybrid"], True, None, "Synced passkey"),
        (None, False, None, "Passkey on this device"),
        (["usb"], False, "YubiKey 5 NFC", "YubiKey 5 NFC"),
    ],
    ids=["security-key", "platform", "phone", "synced", "unknown", "model"],
)
def test_unnamed_passkeys(
    transports: list[str] | None, synced: bool, model: str | None, shown: str
) -> None:
    cred = Credential(
        kind=CredentialKind.PASSKEY, transports=transports, backup_eligible=synced, model_name=model
    )
    assert cred.display_name == shown
    cred.label = "Work laptop"
    assert cred.display_name == "Work laptop"


def test_other_kinds() -> None:
    assert Credential(kind=CredentialKind.PASSWORD).display_name == "Password"
    assert Credential(kind=CredentialKind.CERTIFICATE, subject="CN=alice").display_name == (
        "CN=alice"
    )


@pytest.mark.parametrize(
    ("transports", "synced", "trust", "model", "kind", "model_text", "strength"),
    [
        (["internal"], False, "none", None, "Passkey on this device", "", "device-bound key"),
        (
            ["usb"],
            False,
            "none",
            "YubiKey 5 Series",
            "Security key",
            "YubiKey 5 Series (as it reports itself)",
            "device-bound key",
        ),
        (
            ["usb", "nfc"],
            False,
            "verified",
            "YubiKey 5 Series",
            "Security key",
            "YubiKey 5 Series (attested)",
            "attested hardware key",
        ),
        (
            ["internal", "hybrid"],
            True,
            "none",
            "Google Password Manager",
            "Synced passkey",
            "Google Password Manager (as it reports itself)",
            "synced passkey",
        ),
    ],
    ids=["platform-none", "security-key-reported", "security-key-attested", "synced"],
)
def test_what_a_passkey_is_and_how_strong(
    transports: list[str],
    synced: bool,
    trust: str,
    model: str | None,
    kind: str,
    model_text: str,
    strength: str,
) -> None:
    """A device-bound passkey with attestation ``none`` is never called a hardware or
    security key by its strength (issue: a laptop's passkey shown as "security key")."""
    cred = Credential(
        kind=CredentialKind.PASSKEY,
        transports=transports,
        backup_eligible=synced,
        attestation_trust=trust,
        model_name=model,
    )
    assert (cred.kind_name, cred.model_text, cred.strength.label) == (kind, model_text, strength)


def test_the_strength_order_is_the_documented_one() -> None:
    """docs/credentials.md lists the strengths in this order, with these names."""
    from pathlib import Path

    from app.models import Strength

    doc = (Path(__file__).resolve().parents[2] / "docs" / "credentials.md").read_text()
    table = doc.split("## How strong each way in is", 1)[1]
    positions = [table.index(f"| {s.value} | {s.label} |") for s in Strength]
    assert positions == sorted(positions)

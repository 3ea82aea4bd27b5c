"""What an unnamed credential is called on the pages: from what it said about itself."""

from __future__ import annotations

import pytest

from app.models import Credential, CredentialKind


@pytest.mark.parametrize(("transports", "synced", "model", "shown"), [
    (["usb", "nfc"], False, None, "Security key"),
    (["internal"], False, None, "Passkey on this device"),
    (["hybrid"], False, None, "Passkey on a phone"),
    (["internal", "hybrid"], True, None, "Passkey (synced)"),
    (None, False, None, "Passkey on this device"),
    (["usb"], False, "YubiKey 5 NFC", "YubiKey 5 NFC"),
], ids=["security-key", "platform", "phone", "synced", "unknown", "model"])
def test_unnamed_passkeys(transports: list[str] | None, synced: bool, model: str | None,
                          shown: str) -> None:
    cred = Credential(kind=CredentialKind.PASSKEY, transports=transports,
                      backup_eligible=synced, model_name=model)
    assert cred.display_name == shown
    cred.label = "Work laptop"
    assert cred.display_name == "Work laptop"


def test_other_kinds() -> None:
    assert Credential(kind=CredentialKind.PASSWORD).display_name == "Password"
    assert Credential(kind=CredentialKind.CERTIFICATE, subject="CN=alice").display_name == (
        "CN=alice")

"""app.services.webauthn: recorded vectors with exact values, then threat model C as tables.

Recorded vectors are literal request bodies with their pinned challenges:

* ``PY_WEBAUTHN_*``: from py_webauthn's own test suite (duo-labs/py_webauthn, tests/
  test_verify_registration_response.py and test_verify_authentication_response.py), recorded
  from real browsers and authenticators: a Chrome "none" registration, a Security Key by
  Yubico "packed" registration with its x5c chain, an ES256 assertion.
* ``CHROMIUM_*``: recorded from Chromium 156 driven by Playwright with a CDP virtual
  authenticator (``WebAuthn.addVirtualAuthenticator``, ctap2), origin http://localhost:19077,
  challenge ``bytes(range(32))``, user.id ``b"user-handle-01"``.
* ``SOFT_*``: produced once by tests/support/soft_authenticator.py ("packed" self
  attestation), challenge ``bytes(range(32))`` to register and its reverse to sign in.
"""

# ruff: noqa: E501  (each recorded base64url value stays on one line)

from __future__ import annotations

import ast
import copy
import inspect
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
import webauthn.authentication.verify_authentication_response as lib_authentication
import webauthn.registration.verify_registration_response as lib_registration
from webauthn.helpers import exceptions as lib_exceptions

from app.services import webauthn as svc
from app.services.aaguids import model_name
from app.services.webauthn import (
    AttestationFormat,
    PasskeyAssertion,
    PasskeyRegistration,
    RelyingParty,
    WebAuthnError,
)
from tests.support.soft_authenticator import (
    CHROMIUM_VIRTUAL_AAGUID,
    EDDSA,
    ES256,
    RS256,
    SoftAuthenticator,
    SoftCredential,
    attestation_ca,
    b64url,
    unb64url,
)

# -- recorded vectors -------------------------------------------------------------------

PY_WEBAUTHN_RP = RelyingParty(
    id="localhost", name="py_webauthn", origins=("http://localhost:5000",)
)

#: Chrome, attestation "none" (py_webauthn test_verifies_none_attestation_response).
PY_WEBAUTHN_NONE_REGISTRATION = """{
    "id": "9y1xA8Tmg1FEmT-c7_fvWZ_uoTuoih3OvR45_oAK-cwHWhAbXrl2q62iLVTjiyEZ7O7n-CROOY494k7Q3xrs_w",
    "rawId": "9y1xA8Tmg1FEmT-c7_fvWZ_uoTuoih3OvR45_oAK-cwHWhAbXrl2q62iLVTjiyEZ7O7n-CROOY494k7Q3xrs_w",
    "response": {
        "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVjESZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAFwAAAAAAAAAAAAAAAAAAAAAAQPctcQPE5oNRRJk_nO_371mf7qE7qIodzr0eOf6ACvnMB1oQG165dqutoi1U44shGezu5_gkTjmOPeJO0N8a7P-lAQIDJiABIVggSFbUJF-42Ug3pdM8rDRFu_N5oiVEysPDB6n66r_7dZAiWCDUVnB39FlGypL-qAoIO9xWHtJygo2jfDmHl-_eKFRLDA",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiVHdON240V1R5R0tMYzRaWS1xR3NGcUtuSE00bmdscXN5VjBJQ0psTjJUTzlYaVJ5RnRya2FEd1V2c3FsLWdrTEpYUDZmbkYxTWxyWjUzTW00UjdDdnciLCJvcmlnaW4iOiJodHRwOi8vbG9jYWxob3N0OjUwMDAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
    },
    "type": "public-key",
    "clientExtensionResults": {},
    "transports": ["nfc", "usb"]
}"""
PY_WEBAUTHN_NONE_CHALLENGE = (
    "TwN7n4WTyGKLc4ZY-qGsFqKnHM4nglqsyV0ICJlN2TO9XiRyFtrkaDwUvsql-gkLJXP6fnF1MlrZ53Mm4R7Cvw"
)

#: Security Key by Yubico with NFC, "packed" with an x5c chain to the Yubico U2F root
#: (py_webauthn test_raises_when_root_cert_invalid_for_response).
PY_WEBAUTHN_PACKED_REGISTRATION = """{
    "id": "syGQPDZRUYdb4m3rdWeyPaIMYlbmydGp1TP_33vE_lqJ3PHNyTd0iKsnKr5WjnCcBzcesZrDEfB_RBLFzU3k4w",
    "rawId": "syGQPDZRUYdb4m3rdWeyPaIMYlbmydGp1TP_33vE_lqJ3PHNyTd0iKsnKr5WjnCcBzcesZrDEfB_RBLFzU3k4w",
    "response": {
        "attestationObject": "o2NmbXRmcGFja2VkZ2F0dFN0bXSjY2FsZyZjc2lnWEcwRQIhAOfrFlQpbavT6dJeTDJSCDzYSYPjBDHli2-syT2c1IiKAiAx5gQ2z5cHjdQX-jEHTb7JcjfQoVSW8fXszF5ihSgeOGN4NWOBWQLBMIICvTCCAaWgAwIBAgIEKudiYzANBgkqhkiG9w0BAQsFADAuMSwwKgYDVQQDEyNZdWJpY28gVTJGIFJvb3QgQ0EgU2VyaWFsIDQ1NzIwMDYzMTAgFw0xNDA4MDEwMDAwMDBaGA8yMDUwMDkwNDAwMDAwMFowbjELMAkGA1UEBhMCU0UxEjAQBgNVBAoMCVl1YmljbyBBQjEiMCAGA1UECwwZQXV0aGVudGljYXRvciBBdHRlc3RhdGlvbjEnMCUGA1UEAwweWXViaWNvIFUyRiBFRSBTZXJpYWwgNzE5ODA3MDc1MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEKgOGXmBD2Z4R_xCqJVRXhL8Jr45rHjsyFykhb1USGozZENOZ3cdovf5Ke8fj2rxi5tJGn_VnW4_6iQzKdIaeP6NsMGowIgYJKwYBBAGCxAoCBBUxLjMuNi4xLjQuMS40MTQ4Mi4xLjEwEwYLKwYBBAGC5RwCAQEEBAMCBDAwIQYLKwYBBAGC5RwBAQQEEgQQbUS6m_bsLkm5MAyP6SDLczAMBgNVHRMBAf8EAjAAMA0GCSqGSIb3DQEBCwUAA4IBAQByV9A83MPhFWmEkNb4DvlbUwcjc9nmRzJjKxHc3HeK7GvVkm0H4XucVDB4jeMvTke0WHb_jFUiApvpOHh5VyMx5ydwFoKKcRs5x0_WwSWL0eTZ5WbVcHkDR9pSNcA_D_5AsUKOBcbpF5nkdVRxaQHuuIuwV4k1iK2IqtMNcU8vL6w21U261xCcWwJ6sMq4zzVO8QCKCQhsoIaWrwz828GDmPzfAjFsJiLJXuYivdHACkeJ5KHMt0mjVLpfJ2BCML7_rgbmvwL7wBW80VHfNdcKmKjkLcpEiPzwcQQhiN_qHV90t-p4iyr5xRSpurlP5zic2hlRkLKxMH2_kRjhqSn4aGF1dGhEYXRhWMRJlg3liA6MaHQ0Fw9kdmBbj-SuuaKGMseZXPO6gx2XY0UAAAA0bUS6m_bsLkm5MAyP6SDLcwBAsyGQPDZRUYdb4m3rdWeyPaIMYlbmydGp1TP_33vE_lqJ3PHNyTd0iKsnKr5WjnCcBzcesZrDEfB_RBLFzU3k46UBAgMmIAEhWCBAX_i3O3DvBnkGq_uLNk_PeAX5WwO_MIxBp0mhX6Lw7yJYIOW-1-Fch829McWvRUYAHTWZTx5IycKSGECL1UzUaK_8",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiOExCQ2lPWTNxMWNCWkhGQVd0UzRBWlpDaHpHcGh5NjdsSzdJNzB6S2k0eUM3cGdyUTJQY2g3bkFqTGsxd3E5Z3Jlc2hJQXNXMkFqaWJoWGpqSTBUbVEiLCJvcmlnaW4iOiJodHRwOi8vbG9jYWxob3N0OjUwMDAiLCJjcm9zc09yaWdpbiI6ZmFsc2V9"
    },
    "type": "public-key",
    "clientExtensionResults": {},
    "transports": ["nfc", "usb"]
}"""
PY_WEBAUTHN_PACKED_CHALLENGE = (
    "8LBCiOY3q1cBZHFAWtS4AZZChzGphy67lK7I70zKi4yC7pgrQ2Pch7nAjLk1wq9greshIAsW2AjibhXjjI0TmQ"
)

#: An ES256 assertion with UP only (no UV), counter 77 -> 78
#: (py_webauthn test_verify_authentication_response_with_EC2_public_key).
PY_WEBAUTHN_ES256_ASSERTION = """{
    "id": "EDx9FfAbp4obx6oll2oC4-CZuDidRVV4gZhxC529ytlnqHyqCStDUwfNdm1SNHAe3X5KvueWQdAX3x9R1a2b9Q",
    "rawId": "EDx9FfAbp4obx6oll2oC4-CZuDidRVV4gZhxC529ytlnqHyqCStDUwfNdm1SNHAe3X5KvueWQdAX3x9R1a2b9Q",
    "response": {
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MBAAAATg",
        "clientDataJSON": "eyJjaGFsbGVuZ2UiOiJ4aTMwR1BHQUZZUnhWRHBZMXNNMTBEYUx6VlFHNjZudi1fN1JVYXpIMHZJMll2RzhMWWdERW52TjVmWlpOVnV2RUR1TWk5dGUzVkxxYjQyTjBma0xHQSIsImNsaWVudEV4dGVuc2lvbnMiOnt9LCJoYXNoQWxnb3JpdGhtIjoiU0hBLTI1NiIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6NTAwMCIsInR5cGUiOiJ3ZWJhdXRobi5nZXQifQ",
        "signature": "MEUCIGisVZOBapCWbnJJvjelIzwpixxIwkjCCb5aCHafQu68AiEA88v-2pJNNApPFwAKFiNuf82-2hBxYW5kGwVweeoxCwo"
    },
    "type": "public-key",
    "clientExtensionResults": {}
}"""
PY_WEBAUTHN_ES256_CHALLENGE = (
    "xi30GPGAFYRxVDpY1sM10DaLzVQG66nv-_7RUazH0vI2YvG8LYgDEnvN5fZZNVuvEDuMi9te3VLqb42N0fkLGA"
)
PY_WEBAUTHN_ES256_PUBLIC_KEY = "pQECAyYgASFYIIeDTe-gN8A-zQclHoRnGFWN8ehM1b7yAsa8I8KIvmplIlgg4nFGT5px8o6gpPZZhO01wdy9crDSA_Ngtkx0vGpvPHI"

CHROMIUM_RP = RelyingParty(id="localhost", name="Keystile", origins=("http://localhost:19077",))
SOFT_RP = RelyingParty(id="example.org", name="Keystile", origins=("https://example.org",))
PINNED_CHALLENGE = bytes(range(32))

SOFT_ES256_REGISTRATION = """{
    "id": "5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eU",
    "rawId": "5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eU",
    "type": "public-key",
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHBzOi8vZXhhbXBsZS5vcmciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "attestationObject": "o2NmbXRmcGFja2VkZ2F0dFN0bXSiY2FsZyZjc2lnWEgwRgIhAOt21yeBgVdgypHCLPuPDj78epxbTpMdluRkVbirX2LbAiEA1FuJQrPDuzcFfl27JViAsD1w3C1ompdZM1QOnikdOQZoYXV0aERhdGFYpL-rw3QylYsGM2DTrWRhycRzWuf47dRlkqXg8BRSsuS1RQAAAAdtRLqb9uwuSbkwDI_pIMtzACDl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5aUBAgMmIAEhWCDkeWNpad1RIkB4-qo_2sxoA74L1E3ZdhN4dDEWEIBydCJYIF2mC5W2Lux0HRLz_l8miFh2RKNcm2EGsmdrguAroeCL",
        "authenticatorData": "v6vDdDKViwYzYNOtZGHJxHNa5_jt1GWSpeDwFFKy5LVFAAAAB21Eupv27C5JuTAMj-kgy3MAIOXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXlpQECAyYgASFYIOR5Y2lp3VEiQHj6qj_azGgDvgvUTdl2E3h0MRYQgHJ0IlggXaYLlbYu7HQdEvP-XyaIWHZEo1ybYQayZ2uC4Cuh4Is",
        "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5HljaWndUSJAePqqP9rMaAO-C9RN2XYTeHQxFhCAcnRdpguVti7sdB0S8_5fJohYdkSjXJthBrJna4LgK6Hgiw",
        "publicKeyAlgorithm": -7,
        "transports": [
            "usb"
        ]
    }
}"""

SOFT_ES256_ASSERTION = """{
    "id": "5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eU",
    "rawId": "5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eU",
    "type": "public-key",
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiSHg0ZEhCc2FHUmdYRmhVVUV4SVJFQThPRFF3TENna0lCd1lGQkFNQ0FRQSIsIm9yaWdpbiI6Imh0dHBzOi8vZXhhbXBsZS5vcmciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "authenticatorData": "v6vDdDKViwYzYNOtZGHJxHNa5_jt1GWSpeDwFFKy5LUFAAAACA",
        "signature": "MEQCIBDrZUcQKvfs147QwGlnC61_F0H_NwUCCdSsVbUrZYgCAiBR3FFfCq0H-n6XoicmNy6lNr3IsMjIuUDSjwTzRCDeqA",
        "userHandle": "c29mdC11c2VyLUVTMjU2"
    }
}"""

SOFT_ED25519_REGISTRATION = """{
    "id": "7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e0",
    "rawId": "7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e0",
    "type": "public-key",
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHBzOi8vZXhhbXBsZS5vcmciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "attestationObject": "o2NmbXRmcGFja2VkZ2F0dFN0bXSiY2FsZydjc2lnWEDRiCiplnupVebJ2LncFgy8ixFzG9_x2E27auY30xqDScLDs9DLb0NpI_plUk5ufQ5M610xDj0205J4wQ9BqwkNaGF1dGhEYXRhWIG_q8N0MpWLBjNg061kYcnEc1rn-O3UZZKl4PAUUrLktUUAAAAHbUS6m_bsLkm5MAyP6SDLcwAg7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e2kAQEDJyAGIVggk9r5NNJnHCopCfokT19Y50ytq1P0jOvOH3X9aVJTR9s",
        "authenticatorData": "v6vDdDKViwYzYNOtZGHJxHNa5_jt1GWSpeDwFFKy5LVFAAAAB21Eupv27C5JuTAMj-kgy3MAIO3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3tpAEBAycgBiFYIJPa-TTSZxwqKQn6JE9fWOdMratT9Izrzh91_WlSU0fb",
        "publicKey": "MCowBQYDK2VwAyEAk9r5NNJnHCopCfokT19Y50ytq1P0jOvOH3X9aVJTR9s",
        "publicKeyAlgorithm": -8,
        "transports": [
            "usb"
        ]
    }
}"""

SOFT_ED25519_ASSERTION = """{
    "id": "7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e0",
    "rawId": "7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e0",
    "type": "public-key",
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "response": {
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiSHg0ZEhCc2FHUmdYRmhVVUV4SVJFQThPRFF3TENna0lCd1lGQkFNQ0FRQSIsIm9yaWdpbiI6Imh0dHBzOi8vZXhhbXBsZS5vcmciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "authenticatorData": "v6vDdDKViwYzYNOtZGHJxHNa5_jt1GWSpeDwFFKy5LUFAAAACA",
        "signature": "DZJ34LHZJdKuyF_UyE8-Ww4S6Mzr4n1g8MrNsdil6ehRcxfMBFWHgJNDtNCGOs50k9Jfb0JioSKfhr6C0aZABQ",
        "userHandle": "c29mdC11c2VyLUVEMjU1MTk"
    }
}"""

CHROMIUM_ES256_NONE_REGISTRATION = """{
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "id": "fID-SnPbnp_GbvYQQ8gkKKPlQeoBz3m-nP2YmMjKAy8",
    "rawId": "fID-SnPbnp_GbvYQQ8gkKKPlQeoBz3m-nP2YmMjKAy8",
    "response": {
        "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVikSZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAAQAAAAAAAAAAAAAAAAAAAAAAIHyA_kpz256fxm72EEPIJCij5UHqAc95vpz9mJjIygMvpQECAyYgASFYIMdHzVpFfjt9YiNeyNrNtPkMIs6BpyvUwrtopMf7UjlmIlggv5SCTtk-8DyM2EiKtmCGfgwUD-gfhmzd6AQkvPpC0Gs",
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAAQAAAAAAAAAAAAAAAAAAAAAAIHyA_kpz256fxm72EEPIJCij5UHqAc95vpz9mJjIygMvpQECAyYgASFYIMdHzVpFfjt9YiNeyNrNtPkMIs6BpyvUwrtopMf7UjlmIlggv5SCTtk-8DyM2EiKtmCGfgwUD-gfhmzd6AQkvPpC0Gs",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6MTkwNzciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEx0fNWkV-O31iI17I2s20-QwizoGnK9TCu2ikx_tSOWa_lIJO2T7wPIzYSIq2YIZ-DBQP6B-GbN3oBCS8-kLQaw",
        "publicKeyAlgorithm": -7,
        "transports": [
            "usb"
        ]
    },
    "type": "public-key"
}"""

CHROMIUM_ES256_NONE_ASSERTION = """{
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "id": "fID-SnPbnp_GbvYQQ8gkKKPlQeoBz3m-nP2YmMjKAy8",
    "rawId": "fID-SnPbnp_GbvYQQ8gkKKPlQeoBz3m-nP2YmMjKAy8",
    "response": {
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6MTkwNzciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "signature": "MEYCIQC46RILAOHOIk2slG_PyAaUu2bad9ZOQhF5JvhZvuDu_QIhAL6tCJn2z8-aNlfDLJR2cL77nUYTB8bDtVAGLz7lH9c1",
        "userHandle": "dXNlci1oYW5kbGUtMDE"
    },
    "type": "public-key"
}"""

CHROMIUM_ED25519_NONE_REGISTRATION = """{
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "id": "IQCTnCtjlEo7ioZYzGnKGBRG2YPpYzZJ744McdBTzIQ",
    "rawId": "IQCTnCtjlEo7ioZYzGnKGBRG2YPpYzZJ744McdBTzIQ",
    "response": {
        "attestationObject": "o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YViBSZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAAQAAAAAAAAAAAAAAAAAAAAAAICEAk5wrY5RKO4qGWMxpyhgURtmD6WM2Se-ODHHQU8yEpAEBAycgBiFYIKJSCCsL-MziUTXPeKhmEYRW590W_c95qOJlm4Bv8Rst",
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAAQAAAAAAAAAAAAAAAAAAAAAAICEAk5wrY5RKO4qGWMxpyhgURtmD6WM2Se-ODHHQU8yEpAEBAycgBiFYIKJSCCsL-MziUTXPeKhmEYRW590W_c95qOJlm4Bv8Rst",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6MTkwNzciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "publicKey": "MCowBQYDK2VwAyEAolIIKwv4zOJRNc94qGYRhFbn3Rb9z3mo4mWbgG_xGy0",
        "publicKeyAlgorithm": -8,
        "transports": [
            "usb"
        ]
    },
    "type": "public-key"
}"""

CHROMIUM_ED25519_NONE_ASSERTION = """{
    "authenticatorAttachment": "cross-platform",
    "clientExtensionResults": {},
    "id": "IQCTnCtjlEo7ioZYzGnKGBRG2YPpYzZJ744McdBTzIQ",
    "rawId": "IQCTnCtjlEo7ioZYzGnKGBRG2YPpYzZJ744McdBTzIQ",
    "response": {
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6MTkwNzciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "signature": "V5Egm0JVHh-3-xdB9sgqtj2BgJKRdjon3_95FsY9GEluW7MObVPmEElUMcoadSmOjOvK37tKwSUYWBaqXQLEBA",
        "userHandle": "dXNlci1oYW5kbGUtMDE"
    },
    "type": "public-key"
}"""

CHROMIUM_PACKED_X5C_REGISTRATION = """{
    "authenticatorAttachment": "platform",
    "clientExtensionResults": {},
    "id": "Y2ekl3pvwjzuMRIJTKHNIglB99pRPZ1fk2AnxWdo5cw",
    "rawId": "Y2ekl3pvwjzuMRIJTKHNIglB99pRPZ1fk2AnxWdo5cw",
    "response": {
        "attestationObject": "o2NmbXRmcGFja2VkZ2F0dFN0bXSjY2FsZyZjc2lnWEcwRQIhAMGrJVRka4k-3vzI_0CrQbmGJRTnc0keCfTu6lZ0oVDqAiAjZZXfpkjYw0PAgyxchjOIi2ELbALoJ5u-sttHNc-LJ2N4NWOBWQHZMIIB1TCCAXqgAwIBAgIBATAKBggqhkjOPQQDAjBgMQswCQYDVQQGEwJVUzERMA8GA1UECgwIQ2hyb21pdW0xIjAgBgNVBAsMGUF1dGhlbnRpY2F0b3IgQXR0ZXN0YXRpb24xGjAYBgNVBAMMEUJhdGNoIENlcnRpZmljYXRlMB4XDTE3MDcxNDAyNDAwMFoXDTQ2MTEyMjA4NTU0MVowYDELMAkGA1UEBhMCVVMxETAPBgNVBAoMCENocm9taXVtMSIwIAYDVQQLDBlBdXRoZW50aWNhdG9yIEF0dGVzdGF0aW9uMRowGAYDVQQDDBFCYXRjaCBDZXJ0aWZpY2F0ZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABI1hfmXJUI5kvMVnOsgqZ5naPBRGaCwljEY__99Y39L6Pmw3i1PXlcSk3_tBme3Xhi8jq68CA7S4kRugVpmU4QGjJTAjMAwGA1UdEwEB_wQCMAAwEwYLKwYBBAGC5RwCAQEEBAMCAwgwCgYIKoZIzj0EAwIDSQAwRgIhAPmw-LSvy_wZ6RF2ZeM6qT_G94k9OQZPC-7WzClR3OU5AiEAr3wvxfUNyYXwiFHKOlZZHkYMZwcL0377DqXx5r_2nLhoYXV0aERhdGFYpEmWDeWIDoxodDQXD2R2YFuP5K65ooYyx5lc87qDHZdjRQAAAAEBAgMEBQYHCAECAwQFBgcIACBjZ6SXem_CPO4xEglMoc0iCUH32lE9nV-TYCfFZ2jlzKUBAgMmIAEhWCD4A5xRUS3j5Bb9jdyzGuqq-GMxSjffSfWwDs35eOsU0iJYIKiuX2oiZQzNWhB3ktJfXswWTnXZ8s8HxBfU_Csht8Jk",
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAAQECAwQFBgcIAQIDBAUGBwgAIGNnpJd6b8I87jESCUyhzSIJQffaUT2dX5NgJ8VnaOXMpQECAyYgASFYIPgDnFFRLePkFv2N3LMa6qr4YzFKN99J9bAOzfl46xTSIlggqK5faiJlDM1aEHeS0l9ezBZOddnyzwfEF9T8KyG3wmQ",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6MTkwNzciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "publicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE-AOcUVEt4-QW_Y3csxrqqvhjMUo330n1sA7N-XjrFNKorl9qImUMzVoQd5LSX17MFk512fLPB8QX1PwrIbfCZA",
        "publicKeyAlgorithm": -7,
        "transports": [
            "internal"
        ]
    },
    "type": "public-key"
}"""

CHROMIUM_PACKED_X5C_ASSERTION = """{
    "authenticatorAttachment": "platform",
    "clientExtensionResults": {},
    "id": "Y2ekl3pvwjzuMRIJTKHNIglB99pRPZ1fk2AnxWdo5cw",
    "rawId": "Y2ekl3pvwjzuMRIJTKHNIglB99pRPZ1fk2AnxWdo5cw",
    "response": {
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiQUFFQ0F3UUZCZ2NJQ1FvTERBME9EeEFSRWhNVUZSWVhHQmthR3h3ZEhoOCIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6MTkwNzciLCJjcm9zc09yaWdpbiI6ZmFsc2V9",
        "signature": "MEYCIQDCeZWJJK3mkxnkNxLQGif5KYFKylAVaqOJHbrLXr_5KQIhAMbPPkGCTPhtcGZZnv6wHm08RzGUeaJKWCW-B8FpmYLl",
        "userHandle": "dXNlci1oYW5kbGUtMDE"
    },
    "type": "public-key"
}"""

RECORDED_REGISTRATIONS = [
    pytest.param(
        PY_WEBAUTHN_RP,
        PY_WEBAUTHN_NONE_REGISTRATION,
        unb64url(PY_WEBAUTHN_NONE_CHALLENGE),
        {
            "credential_id": "9y1xA8Tmg1FEmT-c7_fvWZ_uoTuoih3OvR45_oAK-cwHWhAbXrl2q62iLVTjiyEZ7O7n-CROOY494k7Q3xrs_w",
            "public_key": "pQECAyYgASFYIEhW1CRfuNlIN6XTPKw0RbvzeaIlRMrDwwep-uq_-3WQIlgg1FZwd_RZRsqS_qgKCDvcVh7ScoKNo3w5h5fv3ihUSww",
            "sign_count": 23,
            "aaguid": "00000000-0000-0000-0000-000000000000",
            "fmt": "none",
            "attestation_trust": "none",
            "transports": [],
            "user_verified": True,
            "authenticator_attachment": None,
            "model": None,
        },
        id="py_webauthn-chrome-none",
    ),
    pytest.param(
        PY_WEBAUTHN_RP,
        PY_WEBAUTHN_PACKED_REGISTRATION,
        unb64url(PY_WEBAUTHN_PACKED_CHALLENGE),
        {
            "credential_id": "syGQPDZRUYdb4m3rdWeyPaIMYlbmydGp1TP_33vE_lqJ3PHNyTd0iKsnKr5WjnCcBzcesZrDEfB_RBLFzU3k4w",
            "public_key": "pQECAyYgASFYIEBf-Lc7cO8GeQar-4s2T894BflbA78wjEGnSaFfovDvIlgg5b7X4VyHzb0xxa9FRgAdNZlPHkjJwpIYQIvVTNRor_w",
            "sign_count": 52,
            "aaguid": "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73",
            "fmt": "packed",
            "attestation_trust": "basic-unverified",
            "transports": [],
            "user_verified": True,
            "authenticator_attachment": None,
            "model": "Security Key by Yubico with NFC",
        },
        id="py_webauthn-yubikey-packed-x5c",
    ),
    pytest.param(
        CHROMIUM_RP,
        CHROMIUM_ES256_NONE_REGISTRATION,
        PINNED_CHALLENGE,
        {
            "credential_id": "fID-SnPbnp_GbvYQQ8gkKKPlQeoBz3m-nP2YmMjKAy8",
            "public_key": "pQECAyYgASFYIMdHzVpFfjt9YiNeyNrNtPkMIs6BpyvUwrtopMf7UjlmIlggv5SCTtk-8DyM2EiKtmCGfgwUD-gfhmzd6AQkvPpC0Gs",
            "sign_count": 1,
            "aaguid": "00000000-0000-0000-0000-000000000000",
            "fmt": "none",
            "attestation_trust": "none",
            "transports": ["usb"],
            "user_verified": True,
            "authenticator_attachment": "cross-platform",
            "model": None,
        },
        id="chromium-cdp-es256-none",
    ),
    pytest.param(
        CHROMIUM_RP,
        CHROMIUM_ED25519_NONE_REGISTRATION,
        PINNED_CHALLENGE,
        {
            "credential_id": "IQCTnCtjlEo7ioZYzGnKGBRG2YPpYzZJ744McdBTzIQ",
            "public_key": "pAEBAycgBiFYIKJSCCsL-MziUTXPeKhmEYRW590W_c95qOJlm4Bv8Rst",
            "sign_count": 1,
            "aaguid": "00000000-0000-0000-0000-000000000000",
            "fmt": "none",
            "attestation_trust": "none",
            "transports": ["usb"],
            "user_verified": True,
            "authenticator_attachment": "cross-platform",
            "model": None,
        },
        id="chromium-cdp-ed25519-none",
    ),
    pytest.param(
        CHROMIUM_RP,
        CHROMIUM_PACKED_X5C_REGISTRATION,
        PINNED_CHALLENGE,
        {
            "credential_id": "Y2ekl3pvwjzuMRIJTKHNIglB99pRPZ1fk2AnxWdo5cw",
            "public_key": "pQECAyYgASFYIPgDnFFRLePkFv2N3LMa6qr4YzFKN99J9bAOzfl46xTSIlggqK5faiJlDM1aEHeS0l9ezBZOddnyzwfEF9T8KyG3wmQ",
            "sign_count": 1,
            "aaguid": "01020304-0506-0708-0102-030405060708",
            "fmt": "packed",
            "attestation_trust": "basic-unverified",
            "transports": ["internal"],
            "user_verified": True,
            "authenticator_attachment": "platform",
            "model": None,
        },
        id="chromium-cdp-platform-packed-x5c",
    ),
    pytest.param(
        SOFT_RP,
        SOFT_ES256_REGISTRATION,
        PINNED_CHALLENGE,
        {
            "credential_id": "5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eU",
            "public_key": "pQECAyYgASFYIOR5Y2lp3VEiQHj6qj_azGgDvgvUTdl2E3h0MRYQgHJ0IlggXaYLlbYu7HQdEvP-XyaIWHZEo1ybYQayZ2uC4Cuh4Is",
            "sign_count": 7,
            "aaguid": "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73",
            "fmt": "packed",
            "attestation_trust": "self",
            "transports": ["usb"],
            "user_verified": True,
            "authenticator_attachment": "cross-platform",
            "model": "Security Key by Yubico with NFC",
        },
        id="soft-es256-packed-self",
    ),
    pytest.param(
        SOFT_RP,
        SOFT_ED25519_REGISTRATION,
        PINNED_CHALLENGE,
        {
            "credential_id": "7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e0",
            "public_key": "pAEBAycgBiFYIJPa-TTSZxwqKQn6JE9fWOdMratT9Izrzh91_WlSU0fb",
            "sign_count": 7,
            "aaguid": "6d44ba9b-f6ec-2e49-b930-0c8fe920cb73",
            "fmt": "packed",
            "attestation_trust": "self",
            "transports": ["usb"],
            "user_verified": True,
            "authenticator_attachment": "cross-platform",
            "model": "Security Key by Yubico with NFC",
        },
        id="soft-ed25519-packed-self",
    ),
]


@pytest.mark.parametrize(("rp", "body", "challenge", "expected"), RECORDED_REGISTRATIONS)
def test_recorded_registration(
    rp: RelyingParty, body: str, challenge: bytes, expected: dict[str, Any]
) -> None:
    reg = svc.verify_registration(
        rp=rp, response_json=body, expected_challenge=challenge, require_user_verification=False
    )
    assert reg.credential_id_b64url == expected["credential_id"]
    assert reg.credential_id == unb64url(expected["credential_id"])
    assert b64url(reg.public_key) == expected["public_key"]
    assert reg.sign_count == expected["sign_count"]
    assert reg.aaguid == expected["aaguid"]
    assert reg.fmt == expected["fmt"]
    assert reg.attestation_trust == expected["attestation_trust"]
    assert reg.transports == expected["transports"]
    assert reg.user_verified is expected["user_verified"]
    assert reg.authenticator_attachment == expected["authenticator_attachment"]
    assert (reg.backup_eligible, reg.backup_state, reg.device_type) == (
        False,
        False,
        "single_device",
    )
    assert model_name(reg.aaguid) == expected["model"]
    # The lookup helper agrees with what verification returns.
    assert svc.parse_credential_id(body) == reg.credential_id


RECORDED_ASSERTIONS = [
    pytest.param(
        CHROMIUM_RP,
        CHROMIUM_ES256_NONE_ASSERTION,
        PINNED_CHALLENGE,
        "pQECAyYgASFYIMdHzVpFfjt9YiNeyNrNtPkMIs6BpyvUwrtopMf7UjlmIlggv5SCTtk-8DyM2EiKtmCGfgwUD-gfhmzd6AQkvPpC0Gs",
        1,
        ("fID-SnPbnp_GbvYQQ8gkKKPlQeoBz3m-nP2YmMjKAy8", 2, True, b"user-handle-01"),
        id="chromium-cdp-es256",
    ),
    pytest.param(
        CHROMIUM_RP,
        CHROMIUM_ED25519_NONE_ASSERTION,
        PINNED_CHALLENGE,
        "pAEBAycgBiFYIKJSCCsL-MziUTXPeKhmEYRW590W_c95qOJlm4Bv8Rst",
        1,
        ("IQCTnCtjlEo7ioZYzGnKGBRG2YPpYzZJ744McdBTzIQ", 2, True, b"user-handle-01"),
        id="chromium-cdp-ed25519",
    ),
    pytest.param(
        CHROMIUM_RP,
        CHROMIUM_PACKED_X5C_ASSERTION,
        PINNED_CHALLENGE,
        "pQECAyYgASFYIPgDnFFRLePkFv2N3LMa6qr4YzFKN99J9bAOzfl46xTSIlggqK5faiJlDM1aEHeS0l9ezBZOddnyzwfEF9T8KyG3wmQ",
        1,
        ("Y2ekl3pvwjzuMRIJTKHNIglB99pRPZ1fk2AnxWdo5cw", 2, True, b"user-handle-01"),
        id="chromium-cdp-platform",
    ),
    pytest.param(
        PY_WEBAUTHN_RP,
        PY_WEBAUTHN_ES256_ASSERTION,
        unb64url(PY_WEBAUTHN_ES256_CHALLENGE),
        PY_WEBAUTHN_ES256_PUBLIC_KEY,
        77,
        (
            "EDx9FfAbp4obx6oll2oC4-CZuDidRVV4gZhxC529ytlnqHyqCStDUwfNdm1SNHAe3X5KvueWQdAX3x9R1a2b9Q",
            78,
            False,
            None,
        ),
        id="py_webauthn-es256-up-only",
    ),
    pytest.param(
        SOFT_RP,
        SOFT_ES256_ASSERTION,
        PINNED_CHALLENGE[::-1],
        "pQECAyYgASFYIOR5Y2lp3VEiQHj6qj_azGgDvgvUTdl2E3h0MRYQgHJ0IlggXaYLlbYu7HQdEvP-XyaIWHZEo1ybYQayZ2uC4Cuh4Is",
        7,
        ("5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eXl5eU", 8, True, b"soft-user-ES256"),
        id="soft-es256",
    ),
    pytest.param(
        SOFT_RP,
        SOFT_ED25519_ASSERTION,
        PINNED_CHALLENGE[::-1],
        "pAEBAycgBiFYIJPa-TTSZxwqKQn6JE9fWOdMratT9Izrzh91_WlSU0fb",
        7,
        ("7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e0", 8, True, b"soft-user-ED25519"),
        id="soft-ed25519",
    ),
]


@pytest.mark.parametrize(
    ("rp", "body", "challenge", "public_key", "stored_count", "expected"), RECORDED_ASSERTIONS
)
def test_recorded_assertion(
    rp: RelyingParty,
    body: str,
    challenge: bytes,
    public_key: str,
    stored_count: int,
    expected: tuple[str, int, bool, bytes | None],
) -> None:
    credential_id, new_count, user_verified, user_handle = expected
    assert svc.parse_credential_id(body) == unb64url(credential_id)
    assert svc.parse_user_handle(body) == user_handle
    result = svc.verify_authentication(
        rp=rp,
        response_json=body.encode(),
        expected_challenge=challenge,
        credential_public_key=unb64url(public_key),
        stored_sign_count=stored_count,
        stored_backup_eligible=False,
        require_user_verification=False,
    )
    assert result == PasskeyAssertion(
        credential_id=unb64url(credential_id),
        new_sign_count=new_count,
        backup_eligible=False,
        backup_state=False,
        user_verified=user_verified,
        user_handle=user_handle,
        authenticator_attachment=json.loads(body).get("authenticatorAttachment"),
    )
    # Replaying the same response once its counter is stored is a regression.
    with pytest.raises(WebAuthnError) as err:
        svc.verify_authentication(
            rp=rp,
            response_json=body,
            expected_challenge=challenge,
            credential_public_key=unb64url(public_key),
            stored_sign_count=new_count,
            stored_backup_eligible=False,
            require_user_verification=False,
        )
    assert err.value.code == "counter_regression"


def test_recorded_up_only_assertion_refused_when_uv_required() -> None:
    with pytest.raises(WebAuthnError) as err:
        svc.verify_authentication(
            rp=PY_WEBAUTHN_RP,
            response_json=PY_WEBAUTHN_ES256_ASSERTION,
            expected_challenge=unb64url(PY_WEBAUTHN_ES256_CHALLENGE),
            credential_public_key=unb64url(PY_WEBAUTHN_ES256_PUBLIC_KEY),
            stored_sign_count=77,
            stored_backup_eligible=False,
            require_user_verification=True,
        )
    assert err.value.code == "user_not_verified"


def test_recorded_yubikey_attestation_against_roots() -> None:
    """A chain that does not reach the configured roots is refused, not downgraded."""
    wrong_root = attestation_ca(name="Not Yubico").root_pem
    with pytest.raises(WebAuthnError) as err:
        svc.verify_registration(
            rp=PY_WEBAUTHN_RP,
            response_json=PY_WEBAUTHN_PACKED_REGISTRATION,
            expected_challenge=unb64url(PY_WEBAUTHN_PACKED_CHALLENGE),
            require_user_verification=False,
            attestation_roots={AttestationFormat.PACKED: [wrong_root]},
        )
    assert err.value.code == "untrusted_attestation"
    # Roots for another format do not apply to "packed".
    reg = svc.verify_registration(
        rp=PY_WEBAUTHN_RP,
        response_json=PY_WEBAUTHN_PACKED_REGISTRATION,
        expected_challenge=unb64url(PY_WEBAUTHN_PACKED_CHALLENGE),
        require_user_verification=False,
        attestation_roots={AttestationFormat.TPM: [wrong_root]},
    )
    assert reg.attestation_trust == "basic-unverified"


# -- options ------------------------------------------------------------------------------

EXCLUDE = [(b"\x01" * 16, ["usb", "nfc", "carrier-pigeon"]), (b"\x02" * 20, None)]


def test_passkey_registration_options() -> None:
    options_json, challenge = svc.registration_options(
        rp=SOFT_RP,
        user_handle=b"\x07" * 64,
        username="alice",
        display_name="Alice Example",
        exclude=EXCLUDE,
        kind="passkey",
    )
    options = json.loads(options_json)
    assert len(challenge) == 32
    assert options["challenge"] == b64url(challenge)
    assert options["rp"] == {"name": "Keystile", "id": "example.org"}
    assert options["user"] == {
        "id": b64url(b"\x07" * 64),
        "name": "alice",
        "displayName": "Alice Example",
    }
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert {p["type"] for p in options["pubKeyCredParams"]} == {"public-key"}
    assert options["timeout"] == 300_000
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert "hints" not in options
    assert options["excludeCredentials"] == [
        {"id": b64url(b"\x01" * 16), "type": "public-key", "transports": ["usb", "nfc"]},
        {"id": b64url(b"\x02" * 20), "type": "public-key"},
    ]


def test_security_key_registration_options() -> None:
    options_json, _ = svc.registration_options(
        rp=SOFT_RP,
        user_handle=b"\x07" * 64,
        username="alice",
        display_name="",
        kind="security-key",
    )
    options = json.loads(options_json)
    assert options["hints"] == ["security-key"]
    assert options["authenticatorSelection"] == {
        "authenticatorAttachment": "cross-platform",
        "residentKey": "preferred",
        "requireResidentKey": False,
        "userVerification": "preferred",
    }
    assert options["attestation"] == "direct"
    assert options["user"]["displayName"] == "alice"
    assert options["excludeCredentials"] == []


@pytest.mark.parametrize(
    ("kind", "attestation", "expected"),
    [("passkey", "direct", "direct"), ("security-key", "none", "none")],
)
def test_attestation_preference_can_be_overridden(
    kind: Any, attestation: Any, expected: str
) -> None:
    options_json, _ = svc.registration_options(
        rp=SOFT_RP,
        user_handle=b"u",
        username="a",
        display_name="A",
        kind=kind,
        attestation=attestation,
    )
    assert json.loads(options_json)["attestation"] == expected


@pytest.mark.parametrize("handle", [b"", b"x" * 65])
def test_registration_options_refuse_bad_user_handle(handle: bytes) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        svc.registration_options(rp=SOFT_RP, user_handle=handle, username="a", display_name="A")


def test_authentication_options() -> None:
    discoverable, challenge = svc.authentication_options(rp=SOFT_RP)
    assert json.loads(discoverable) == {
        "challenge": b64url(challenge),
        "timeout": 300_000,
        "rpId": "example.org",
        "allowCredentials": [],
        "userVerification": "required",
    }
    listed, other = svc.authentication_options(
        rp=SOFT_RP, allow=EXCLUDE, user_verification="preferred"
    )
    assert other != challenge
    options = json.loads(listed)
    assert options["userVerification"] == "preferred"
    assert options["allowCredentials"] == [
        {"id": b64url(b"\x01" * 16), "type": "public-key", "transports": ["usb", "nfc"]},
        {"id": b64url(b"\x02" * 20), "type": "public-key"},
    ]


@pytest.mark.parametrize("alg", [ES256, EDDSA, RS256])
def test_round_trip_from_options(alg: int) -> None:
    """Options -> authenticator -> verification, with the challenge the options carried."""
    options_json, challenge = svc.registration_options(
        rp=SOFT_RP, user_handle=b"h" * 32, username="alice", display_name="Alice"
    )
    options = json.loads(options_json)
    assert alg in [p["alg"] for p in options["pubKeyCredParams"]]
    auth = SoftAuthenticator(backup_eligible=True, backup_state=True, counter_step=0)
    response, credential = auth.register(
        challenge=unb64url(options["challenge"]),
        user_handle=unb64url(options["user"]["id"]),
        alg=alg,
    )
    reg = svc.verify_registration(
        rp=SOFT_RP,
        response_json=json.dumps(response),
        expected_challenge=challenge,
        require_user_verification=True,
    )
    assert (reg.backup_eligible, reg.backup_state, reg.device_type) == (True, True, "multi_device")
    request_json, challenge = svc.authentication_options(rp=SOFT_RP)
    body = auth.authenticate(credential, challenge=unb64url(json.loads(request_json)["challenge"]))
    result = svc.verify_authentication(
        rp=SOFT_RP,
        response_json=json.dumps(body),
        expected_challenge=challenge,
        credential_public_key=reg.public_key,
        stored_sign_count=reg.sign_count,
        stored_backup_eligible=reg.backup_eligible,
        require_user_verification=True,
    )
    # Synced passkeys keep their counters at 0 (§6.1.1): 0/0 is accepted.
    assert (result.new_sign_count, result.user_handle) == (0, b"h" * 32)


# -- threat model C, authentication ------------------------------------------------------

OTHER = "another credential"


@pytest.fixture
def auth() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def credential(auth: SoftAuthenticator) -> SoftCredential:
    return auth.register(challenge=PINNED_CHALLENGE, user_handle=b"alice-handle")[1]


def sign_in(
    body: dict[str, Any] | str | bytes,
    credential: SoftCredential,
    *,
    rp: RelyingParty = SOFT_RP,
    expected_challenge: bytes = PINNED_CHALLENGE,
    stored_sign_count: int = 0,
    stored_backup_eligible: bool | None = False,
    require_user_verification: bool = True,
) -> PasskeyAssertion:
    return svc.verify_authentication(
        rp=rp,
        response_json=json.dumps(body) if isinstance(body, dict) else body,
        expected_challenge=expected_challenge,
        credential_public_key=credential.cose_key,
        stored_sign_count=stored_sign_count,
        stored_backup_eligible=stored_backup_eligible,
        require_user_verification=require_user_verification,
    )


ASSERTION_REFUSALS = [
    pytest.param({"origin": "https://evil.example"}, {}, "bad_origin", id="C12-wrong-origin"),
    pytest.param(
        {"origin": "https://example.org.evil.com"}, {}, "bad_origin", id="C12-lookalike-suffix"
    ),
    pytest.param(
        {"origin": "https://evilexample.org"}, {}, "bad_origin", id="C12-lookalike-prefix"
    ),
    pytest.param(
        {"origin": "https://xn--exmple-cua.org"}, {}, "bad_origin", id="C12-lookalike-idn"
    ),
    pytest.param({"origin": "http://example.org"}, {}, "bad_origin", id="C12-http-scheme"),
    pytest.param({"origin": "https://example.org:8443"}, {}, "bad_origin", id="C12-other-port"),
    pytest.param(
        {"origin": "https://example.org:443"}, {}, "bad_origin", id="C12-not-serialised-origin"
    ),
    pytest.param({"origin": "https://example.org/"}, {}, "bad_origin", id="C12-trailing-slash"),
    pytest.param({"origin": "https://EXAMPLE.org"}, {}, "bad_origin", id="C12-case-variant"),
    pytest.param(
        {"origin": "https://login.example.org"}, {}, "bad_origin", id="C12-unlisted-subdomain"
    ),
    pytest.param({"origin": "null"}, {}, "bad_origin", id="C12-opaque-origin"),
    pytest.param({"cross_origin": True}, {}, "bad_origin", id="C12-cross-origin-iframe"),
    pytest.param({"top_origin": "https://evil.example"}, {}, "bad_origin", id="C12-top-origin"),
    pytest.param({"rp_id": "evil.example"}, {}, "bad_rp_id", id="C12-wrong-rp-id-hash"),
    pytest.param({"rp_id": "org"}, {}, "bad_rp_id", id="C12-parent-domain-rp-id"),
    pytest.param({"rp_id": "login.example.org"}, {}, "bad_rp_id", id="C12-subdomain-rp-id"),
    pytest.param({"type": "webauthn.create"}, {}, "bad_type", id="C12-swapped-ceremony"),
    pytest.param({"type": "payment.get"}, {}, "bad_type", id="C12-other-ceremony"),
    pytest.param({"challenge": b"\x00" * 32}, {}, "bad_challenge", id="C11-challenge-mismatch"),
    pytest.param(
        {"challenge": b""},
        {"expected_challenge": b""},
        "bad_challenge",
        id="C11-no-challenge-issued",
    ),
    pytest.param({"up": False}, {}, "user_not_present", id="C12-up-0"),
    pytest.param(
        {"up": False, "uv": False},
        {"require_user_verification": False},
        "user_not_present",
        id="C12-up-0-uv-0",
    ),
    pytest.param({"uv": False}, {}, "user_not_verified", id="C12-uv-0-required"),
    pytest.param({"sign_with": OTHER}, {}, "bad_signature", id="C12-another-credentials-signature"),
    pytest.param(
        {"sign_count": 5},
        {"stored_sign_count": 10},
        "counter_regression",
        id="C13-counter-went-back",
    ),
    pytest.param(
        {"sign_count": 10},
        {"stored_sign_count": 10},
        "counter_regression",
        id="C13-counter-repeated",
    ),
    pytest.param(
        {"sign_count": 0},
        {"stored_sign_count": 10},
        "counter_regression",
        id="C13-counter-reset-to-0",
    ),
    pytest.param(
        {"be": True},
        {"stored_backup_eligible": False},
        "backup_eligibility_changed",
        id="BE-gained",
    ),
    pytest.param(
        {"be": False, "bs": False},
        {"stored_backup_eligible": True},
        "backup_eligibility_changed",
        id="BE-lost",
    ),
    pytest.param({"be": False, "bs": True}, {}, "malformed", id="BS-without-BE"),
]


@pytest.mark.parametrize(("knobs", "verify", "code"), ASSERTION_REFUSALS)
def test_assertion_refused(
    auth: SoftAuthenticator,
    credential: SoftCredential,
    knobs: dict[str, Any],
    verify: dict[str, Any],
    code: str,
) -> None:
    knobs = {"challenge": PINNED_CHALLENGE, **knobs}
    if knobs.get("sign_with") == OTHER:
        knobs["sign_with"] = auth.register(challenge=PINNED_CHALLENGE)[1]
    body = auth.authenticate(credential, **knobs)
    with pytest.raises(WebAuthnError) as err:
        sign_in(body, credential, **verify)
    assert err.value.code == code
    assert err.value.message  # always something safe to show


ASSERTION_ACCEPTED = [
    pytest.param({"uv": False}, {"require_user_verification": False}, id="uv-0-not-required"),
    pytest.param({"sign_count": 0}, {"stored_sign_count": 0}, id="C13-counters-0-0"),
    pytest.param({"sign_count": 1}, {"stored_sign_count": 0}, id="C13-counter-starts"),
    pytest.param({"sign_count": 6}, {"stored_sign_count": 5}, id="C13-counter-increments"),
    pytest.param({"sign_count": 2**32 - 1}, {"stored_sign_count": 5}, id="C13-counter-jumps"),
    pytest.param(
        {"be": True, "bs": False}, {"stored_backup_eligible": True}, id="BS-0-for-eligible"
    ),
    pytest.param({"be": True, "bs": True}, {"stored_backup_eligible": True}, id="BS-may-change"),
    pytest.param(
        {"be": True, "bs": True}, {"stored_backup_eligible": None}, id="BE-unknown-not-checked"
    ),
    pytest.param({"user_handle": None}, {}, id="no-user-handle"),
]


@pytest.mark.parametrize(("knobs", "verify"), ASSERTION_ACCEPTED)
def test_assertion_accepted(
    auth: SoftAuthenticator,
    credential: SoftCredential,
    knobs: dict[str, Any],
    verify: dict[str, Any],
) -> None:
    body = auth.authenticate(credential, challenge=PINNED_CHALLENGE, **knobs)
    result = sign_in(body, credential, **verify)
    assert result.credential_id == credential.credential_id
    assert result.new_sign_count == credential.sign_count
    assert result.user_verified is knobs.get("uv", True)
    assert result.backup_eligible is knobs.get("be", False)
    assert result.backup_state is knobs.get("bs", False)
    assert result.user_handle == knobs.get("user_handle", b"alice-handle")


def test_every_configured_origin_is_accepted(
    auth: SoftAuthenticator, credential: SoftCredential
) -> None:
    rp = RelyingParty(
        id="example.org",
        name="K",
        origins=("https://example.org", "https://login.example.org:8443"),
    )
    for origin in rp.origins:
        sign_in(
            auth.authenticate(credential, challenge=PINNED_CHALLENGE, origin=origin),
            credential,
            rp=rp,
        )


def test_forged_low_counter_is_a_bad_signature_not_a_clone(
    auth: SoftAuthenticator, credential: SoftCredential
) -> None:
    """Nobody can get a credential flagged as cloned without its private key."""
    body = auth.authenticate(credential, challenge=PINNED_CHALLENGE, sign_count=50)
    auth_data = bytearray(unb64url(body["response"]["authenticatorData"]))
    auth_data[33:37] = (1).to_bytes(4, "big")
    body["response"]["authenticatorData"] = b64url(bytes(auth_data))
    with pytest.raises(WebAuthnError) as err:
        sign_in(body, credential, stored_sign_count=10)
    assert err.value.code == "bad_signature"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda r: r.update(signature=b64url(b"\x30\x06\x02\x01\x01\x02\x01\x01")),
            id="wrong-signature",
        ),
        pytest.param(
            lambda r: r.update(signature=b64url(unb64url(r["signature"])[:-1] + b"\x00")),
            id="flipped-signature-byte",
        ),
        pytest.param(lambda r: r.update(signature=b64url(b"junk")), id="not-der"),
        pytest.param(
            lambda r: r.update(
                authenticatorData=b64url(
                    unb64url(r["authenticatorData"])[:32]
                    + b"\x05"
                    + unb64url(r["authenticatorData"])[33:]
                )
            ),
            id="flags-changed-after-signing",
        ),
    ],
)
def test_bad_signature(
    auth: SoftAuthenticator, credential: SoftCredential, tamper: Callable[[dict[str, Any]], None]
) -> None:
    body = auth.authenticate(credential, challenge=PINNED_CHALLENGE, uv=False)
    tamper(body["response"])
    with pytest.raises(WebAuthnError) as err:
        sign_in(body, credential, require_user_verification=False)
    assert err.value.code == "bad_signature"


@pytest.mark.parametrize("alg", [EDDSA, RS256])
def test_bad_signature_other_algorithms(auth: SoftAuthenticator, alg: int) -> None:
    credential = auth.register(challenge=PINNED_CHALLENGE, alg=alg)[1]
    other = auth.register(challenge=PINNED_CHALLENGE, alg=alg)[1]
    body = auth.authenticate(credential, challenge=PINNED_CHALLENGE, sign_with=other)
    with pytest.raises(WebAuthnError) as err:
        sign_in(body, credential)
    assert err.value.code == "bad_signature"


# -- threat model C, registration --------------------------------------------------------


def register(
    body: dict[str, Any] | str | bytes,
    *,
    expected_challenge: bytes = PINNED_CHALLENGE,
    require_user_verification: bool = True,
    attestation_roots: dict[AttestationFormat, list[bytes]] | None = None,
) -> PasskeyRegistration:
    return svc.verify_registration(
        rp=SOFT_RP,
        response_json=json.dumps(body) if isinstance(body, dict) else body,
        expected_challenge=expected_challenge,
        require_user_verification=require_user_verification,
        attestation_roots=attestation_roots,
    )


def _p256_cose(alg: int) -> bytes:
    """A P-256 COSE key labelled with another algorithm."""
    key = SoftAuthenticator().register(challenge=PINNED_CHALLENGE)[1].cose_key
    decoded = cbor2.loads(key)
    decoded[3] = alg
    return cbor2.dumps(decoded)


REGISTRATION_REFUSALS = [
    pytest.param({"origin": "https://evil.example"}, {}, "bad_origin", id="C12-wrong-origin"),
    pytest.param(
        {"origin": "https://example.org.evil.com"}, {}, "bad_origin", id="C12-lookalike-suffix"
    ),
    pytest.param({"origin": "http://example.org"}, {}, "bad_origin", id="C12-http-scheme"),
    pytest.param({"origin": "https://example.org:8443"}, {}, "bad_origin", id="C12-other-port"),
    pytest.param({"cross_origin": True}, {}, "bad_origin", id="C12-cross-origin-iframe"),
    pytest.param({"top_origin": "https://evil.example"}, {}, "bad_origin", id="C12-top-origin"),
    pytest.param({"rp_id": "evil.example"}, {}, "bad_rp_id", id="C12-wrong-rp-id-hash"),
    pytest.param({"type": "webauthn.get"}, {}, "bad_type", id="C12-swapped-ceremony"),
    pytest.param({"challenge": b"\x00" * 32}, {}, "bad_challenge", id="C11-challenge-mismatch"),
    pytest.param(
        {"challenge": b""},
        {"expected_challenge": b""},
        "bad_challenge",
        id="C11-no-challenge-issued",
    ),
    pytest.param(
        {"up": False}, {"require_user_verification": False}, "user_not_present", id="C12-up-0"
    ),
    pytest.param({"uv": False}, {}, "user_not_verified", id="C12-uv-0-required"),
    pytest.param({"be": False, "bs": True}, {}, "malformed", id="BS-without-BE"),
    pytest.param(
        {"credential_id": b"\x01" * 1024},
        {},
        "credential_id_too_long",
        id="C14-credential-id-1024-bytes",
    ),
    pytest.param(
        {"credential_id": b"\x01" * 4000},
        {},
        "credential_id_too_long",
        id="C14-credential-id-4000-bytes",
    ),
    pytest.param({"raw_id": b"\x02" * 32}, {}, "malformed", id="rawId-not-the-attested-id"),
    pytest.param(
        {"attestation": "packed-self", "cose_key": "ES384"},
        {},
        "unsupported_algorithm",
        id="alg-not-offered",
    ),
    pytest.param(
        {"attestation": "packed", "ca": "wrong-aaguid"},
        {},
        "bad_attestation",
        id="certificate-aaguid-mismatch",
    ),
    pytest.param(
        {"attestation": "packed"},
        {"attestation_roots": "other-ca"},
        "untrusted_attestation",
        id="chain-not-to-configured-roots",
    ),
]


@pytest.mark.parametrize(("knobs", "verify", "code"), REGISTRATION_REFUSALS)
def test_registration_refused(
    auth: SoftAuthenticator, knobs: dict[str, Any], verify: dict[str, Any], code: str
) -> None:
    knobs = {"challenge": PINNED_CHALLENGE, **knobs}
    if knobs.get("cose_key") == "ES384":
        knobs["cose_key"] = _p256_cose(-35)
    if knobs.get("ca") == "wrong-aaguid":
        knobs["ca"] = attestation_ca(name="Mismatch", certificate_aaguid=b"\x42" * 16)
    if verify.get("attestation_roots") == "other-ca":
        verify = {
            "attestation_roots": {AttestationFormat.PACKED: [attestation_ca(name="Other").root_pem]}
        }
    body, _ = auth.register(**knobs)
    with pytest.raises(WebAuthnError) as err:
        register(body, **verify)
    assert err.value.code == code


def test_registration_accepts_1023_byte_credential_id_and_no_uv_when_not_required(
    auth: SoftAuthenticator,
) -> None:
    body, credential = auth.register(
        challenge=PINNED_CHALLENGE, credential_id=b"\x01" * 1023, uv=False
    )
    reg = register(body, require_user_verification=False)
    assert reg.credential_id == credential.credential_id
    assert reg.user_verified is False


def test_attestation_trust_levels(auth: SoftAuthenticator) -> None:
    ca = attestation_ca(auth.aaguid)
    roots = {AttestationFormat.PACKED: [ca.root_pem]}
    cases = {
        ("none", False): "none",
        ("packed-self", False): "self",
        ("packed-self", True): "self",
        ("packed", False): "basic-unverified",
        ("packed", True): "verified",
    }
    for (attestation, with_roots), trust in cases.items():
        body, _ = auth.register(challenge=PINNED_CHALLENGE, attestation=attestation)
        reg = register(body, attestation_roots=roots if with_roots else None)
        assert (reg.fmt, reg.attestation_trust) == (
            "none" if attestation == "none" else "packed",
            trust,
        ), (attestation, with_roots)


def _rebuild_attestation(
    body: dict[str, Any], change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    body = copy.deepcopy(body)
    decoded = cbor2.loads(unb64url(body["response"]["attestationObject"]))
    change(decoded)
    body["response"]["attestationObject"] = b64url(cbor2.dumps(decoded))
    return body


ATTESTATION_OBJECT_CHANGES = [
    pytest.param(
        lambda o: o.update(fmt="tpm-but-not-really"), "unsupported_attestation", id="unknown-fmt"
    ),
    pytest.param(lambda o: o.update(fmt=7), "malformed", id="fmt-not-text"),
    pytest.param(
        lambda o: o["attStmt"].update(sig=b"\x30\x00"), "bad_attestation", id="packed-self-bad-sig"
    ),
    pytest.param(lambda o: o["attStmt"].update(sig=12345), "malformed", id="packed-sig-wrong-type"),
    pytest.param(
        lambda o: o["attStmt"].update(alg=-8), "bad_attestation", id="packed-self-alg-mismatch"
    ),
    pytest.param(
        lambda o: o["attStmt"].update(x5c=[b"not a certificate"]),
        "malformed",
        id="packed-x5c-garbage",
    ),
    pytest.param(
        lambda o: o["attStmt"].update(x5c="nope"), "malformed", id="packed-x5c-wrong-type"
    ),
    pytest.param(lambda o: o.update(fmt="none"), "bad_attestation", id="none-with-statement"),
    pytest.param(lambda o: o.pop("authData"), "malformed", id="no-authData"),
    pytest.param(lambda o: o.update(authData=12), "malformed", id="authData-not-bytes"),
    pytest.param(
        lambda o: o.update(authData=o["authData"][:40]), "malformed", id="authData-truncated"
    ),
    pytest.param(
        lambda o: o.update(authData=o["authData"] + b"\x00"),
        "malformed",
        id="authData-trailing-byte",
    ),
    pytest.param(
        lambda o: o.update(authData=o["authData"][:-5] + b"\xff" * 5),
        "malformed",
        id="cose-key-garbage",
    ),
    pytest.param(
        lambda o: o.update(
            authData=o["authData"][:32] + bytes([o["authData"][32] & ~0x40]) + o["authData"][33:37]
        ),
        "malformed",
        id="no-attested-credential-data",
    ),
    pytest.param(lambda o: o.update(attStmt=[1, 2]), "bad_attestation", id="attStmt-not-a-map"),
]


@pytest.mark.parametrize(("change", "code"), ATTESTATION_OBJECT_CHANGES)
def test_attestation_object_refused(
    auth: SoftAuthenticator, change: Callable[[dict[str, Any]], None], code: str
) -> None:
    body, _ = auth.register(challenge=PINNED_CHALLENGE, attestation="packed-self")
    with pytest.raises(WebAuthnError) as err:
        register(_rebuild_attestation(body, change))
    assert err.value.code == code


# -- threat model C.16: malformed and oversized bodies -------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, leaf = path.split(".")

    def change(body: dict[str, Any]) -> None:
        target = body
        for key in parents:
            target = target[key]
        if value is _DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value

    return change


_DELETE = object()
_LONG_ID = b64url(b"\x01" * 1024)

ENVELOPE_CHANGES = [
    pytest.param(_set("id", _DELETE), id="no-id"),
    pytest.param(_set("id", 12), id="id-not-text"),
    pytest.param(_set("rawId", _DELETE), id="no-rawId"),
    pytest.param(_set("rawId", "AAAA"), id="id-differs-from-rawId"),
    pytest.param(lambda b: b.update(id="abc$", rawId="abc$"), id="rawId-not-base64url"),
    pytest.param(lambda b: b.update(id="AAAA==", rawId="AAAA=="), id="rawId-padded"),
    pytest.param(lambda b: b.update(id="AB", rawId="AB"), id="rawId-not-canonical"),
    pytest.param(lambda b: b.update(id="A", rawId="A"), id="rawId-impossible-length"),
    pytest.param(lambda b: b.update(id="", rawId=""), id="rawId-empty"),
    pytest.param(lambda b: b.update(id="a+b/", rawId="a+b/"), id="rawId-plain-base64"),
    pytest.param(lambda b: b.update(id="YWJj\u0000", rawId="YWJj\u0000"), id="rawId-nul"),
    pytest.param(_set("type", _DELETE), id="no-type"),
    pytest.param(_set("type", "password"), id="type-not-public-key"),
    pytest.param(_set("response", _DELETE), id="no-response"),
    pytest.param(_set("response", "x"), id="response-not-object"),
    pytest.param(_set("response.clientDataJSON", _DELETE), id="no-clientDataJSON"),
    pytest.param(_set("response.clientDataJSON", 5), id="clientDataJSON-not-text"),
    pytest.param(_set("response.clientDataJSON", "e30!"), id="clientDataJSON-not-base64url"),
    pytest.param(
        _set("response.clientDataJSON", b64url(b"not json")), id="clientDataJSON-not-json"
    ),
    pytest.param(_set("response.clientDataJSON", b64url(b"[]")), id="clientDataJSON-array"),
    pytest.param(
        _set("response.clientDataJSON", b64url(b"\xff\xfe")), id="clientDataJSON-not-utf8"
    ),
    pytest.param(
        _set(
            "response.clientDataJSON",
            b64url(b'{"type":"webauthn.get","origin":"https://example.org"}'),
        ),
        id="clientData-no-challenge",
    ),
    pytest.param(
        _set(
            "response.clientDataJSON",
            b64url(b'{"type":"webauthn.get","challenge":7,"origin":"https://example.org"}'),
        ),
        id="clientData-challenge-number",
    ),
    pytest.param(
        _set("response.clientDataJSON", b64url(b'{"type":"webauthn.get","challenge":"AAAA"}')),
        id="clientData-no-origin",
    ),
    pytest.param(_set("authenticatorAttachment", "telepathic"), id="unknown-attachment"),
]

ASSERTION_ONLY_CHANGES = [
    pytest.param(_set("response.authenticatorData", _DELETE), id="no-authenticatorData"),
    pytest.param(
        _set("response.authenticatorData", b64url(b"\x00" * 36)), id="authenticatorData-short"
    ),
    pytest.param(_set("response.signature", ""), id="signature-empty"),
    pytest.param(_set("response.signature", None), id="signature-null"),
    pytest.param(_set("response.userHandle", 42), id="userHandle-number"),
    pytest.param(_set("response.userHandle", "a=b"), id="userHandle-not-base64url"),
    pytest.param(_set("response.userHandle", b64url(b"u" * 65)), id="userHandle-too-long"),
    pytest.param(lambda b: b.update(id=_LONG_ID, rawId=_LONG_ID), id="C14-credential-id-too-long"),
]

REGISTRATION_ONLY_CHANGES = [
    pytest.param(_set("response.attestationObject", _DELETE), id="no-attestationObject"),
    pytest.param(
        _set("response.attestationObject", b64url(b"\xff\x00\x13garbage")),
        id="attestationObject-not-cbor",
    ),
    pytest.param(
        _set("response.attestationObject", b64url(cbor2.dumps([1, 2, 3]))),
        id="attestationObject-array",
    ),
    pytest.param(
        _set("response.attestationObject", b64url(b"\x81" * 5000 + b"\x00")),
        id="attestationObject-cbor-nesting-bomb",
    ),
    pytest.param(
        _set("response.attestationObject", b64url(b"\x5b" + (2**62).to_bytes(8, "big"))),
        id="attestationObject-cbor-huge-length",
    ),
    pytest.param(
        _set("response.attestationObject", b64url(b"\xa2\x01\x01\xf5\x02")),
        id="attestationObject-cbor-duplicate-key",
    ),
]


def _valid_assertion() -> tuple[dict[str, Any], SoftCredential]:
    auth = SoftAuthenticator()
    credential = auth.register(challenge=PINNED_CHALLENGE)[1]
    return auth.authenticate(credential, challenge=PINNED_CHALLENGE), credential


@pytest.mark.parametrize("change", ENVELOPE_CHANGES + ASSERTION_ONLY_CHANGES)
def test_malformed_assertion(change: Callable[[dict[str, Any]], None]) -> None:
    body, credential = _valid_assertion()
    change(body)
    with pytest.raises(WebAuthnError) as err:
        sign_in(body, credential)
    assert err.value.code == "malformed"


@pytest.mark.parametrize("change", ENVELOPE_CHANGES + REGISTRATION_ONLY_CHANGES)
def test_malformed_registration(change: Callable[[dict[str, Any]], None]) -> None:
    body, _ = SoftAuthenticator().register(challenge=PINNED_CHALLENGE)
    change(body)
    with pytest.raises(WebAuthnError) as err:
        register(body)
    assert err.value.code == "malformed"


@pytest.mark.parametrize(
    ("transports", "expected"),
    [
        ("usb", []),
        ([], []),
        (["usb", 5, None, "carrier-pigeon", "usb", "hybrid"], ["usb", "hybrid"]),
    ],
)
def test_transports_are_kept_only_when_known(transports: Any, expected: list[str]) -> None:
    body, _ = SoftAuthenticator().register(challenge=PINNED_CHALLENGE)
    body["response"]["transports"] = transports
    assert register(body).transports == expected


NOT_AN_OBJECT = [
    pytest.param(b"", id="empty"),
    pytest.param("{", id="truncated"),
    pytest.param("[]", id="array"),
    pytest.param("null", id="null"),
    pytest.param('"public-key"', id="string"),
    pytest.param("1e999", id="number"),
    pytest.param(b"\xff\xfe{}", id="not-utf8"),
    pytest.param("[" * 60000, id="json-nesting-bomb"),
    pytest.param('{"id": NaN}', id="nan"),
]


@pytest.mark.parametrize("body", NOT_AN_OBJECT)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda b: svc.parse_credential_id(b), id="parse_credential_id"),
        pytest.param(lambda b: svc.parse_user_handle(b), id="parse_user_handle"),
        pytest.param(lambda b: register(b), id="verify_registration"),
        pytest.param(
            lambda b: sign_in(b, SoftAuthenticator().register(challenge=PINNED_CHALLENGE)[1]),
            id="verify_authentication",
        ),
    ],
)
def test_not_a_json_object(body: str | bytes, call: Callable[[str | bytes], Any]) -> None:
    with pytest.raises(WebAuthnError) as err:
        call(body)
    assert err.value.code == "malformed"


@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
def test_oversized_body(as_bytes: bool) -> None:
    body, credential = _valid_assertion()
    body["padding"] = "x" * svc.MAX_RESPONSE_BYTES
    text = json.dumps(body)
    payload: str | bytes = text.encode() if as_bytes else text
    for call in (
        svc.parse_credential_id,
        svc.parse_user_handle,
        lambda b: sign_in(b, credential),
        register,
    ):
        with pytest.raises(WebAuthnError) as err:
            call(payload)
        assert err.value.code == "too_large"


def test_parse_helpers() -> None:
    body, credential = _valid_assertion()
    assert svc.parse_credential_id(json.dumps(body)) == credential.credential_id
    assert svc.parse_user_handle(json.dumps(body)) == b"keystile-test-user"
    body["response"]["userHandle"] = None
    assert svc.parse_user_handle(json.dumps(body)) is None
    del body["response"]["userHandle"]
    assert svc.parse_user_handle(json.dumps(body)) is None
    longest = b"\x09" * 1023
    body.update(id=b64url(longest), rawId=b64url(longest))
    assert svc.parse_credential_id(json.dumps(body)) == longest


def test_fuzzed_responses_only_raise_webauthn_errors() -> None:
    """Random damage to real responses: refused with a WebAuthnError, nothing else escapes."""
    rng = random.Random(20261127)
    auth = SoftAuthenticator()
    reg_body, credential = auth.register(challenge=PINNED_CHALLENGE, attestation="packed")
    get_body = auth.authenticate(credential, challenge=PINNED_CHALLENGE)
    fields = {
        "registration": (reg_body, ["clientDataJSON", "attestationObject"]),
        "assertion": (get_body, ["clientDataJSON", "authenticatorData", "signature", "userHandle"]),
    }
    codes: set[str] = set()
    for i in range(600):
        ceremony = "registration" if i % 2 else "assertion"
        template, names = fields[ceremony]
        body = copy.deepcopy(template)
        name = rng.choice(names)
        raw = bytearray(unb64url(body["response"][name]))
        for _ in range(rng.randint(1, 4)):
            action = rng.random()
            if action < 0.6 and raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
            elif action < 0.8:
                del raw[rng.randrange(len(raw) + 1) :]
            else:
                raw[rng.randrange(len(raw) + 1) : 0] = rng.randbytes(rng.randint(1, 8))
        body["response"][name] = b64url(bytes(raw))
        try:
            if ceremony == "registration":
                register(body, require_user_verification=False)
            else:
                sign_in(body, credential, require_user_verification=False)
        except WebAuthnError as err:
            codes.add(err.code)
    assert "malformed" in codes and "bad_signature" in codes


# -- the error mapping ---------------------------------------------------------------------


def _library_messages(module: Any) -> list[str]:
    """The messages py_webauthn raises in a verify_*_response module, f-string holes as {}."""
    messages = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            arg = node.exc.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                messages.append(arg.value)
            elif isinstance(arg, ast.JoinedStr):
                messages.append(
                    "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in arg.values)
                )
    return messages


@pytest.mark.parametrize(
    ("module", "exception"),
    [
        (lib_registration, lib_exceptions.InvalidRegistrationResponse),
        (lib_authentication, lib_exceptions.InvalidAuthenticationResponse),
    ],
    ids=["registration", "authentication"],
)
def test_every_library_message_has_an_explicit_code(
    module: Any, exception: type[Exception]
) -> None:
    """A py_webauthn upgrade that rewords a failure must not silently fall back."""
    messages = _library_messages(module)
    assert len(messages) >= 10
    needles = [needle for needle, _ in svc._LIBRARY_MESSAGES]
    unmapped = [m for m in messages if not any(n in m for n in needles)]
    assert unmapped == []
    for message in messages:
        assert svc._library_code(exception(message)) != "invalid"


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (lib_exceptions.InvalidCBORData("x"), "malformed"),
        (lib_exceptions.InvalidJSONStructure("x"), "malformed"),
        (lib_exceptions.InvalidBackupFlags("x"), "malformed"),
        (lib_exceptions.UnsupportedPublicKeyType("x"), "unsupported_algorithm"),
        (lib_exceptions.InvalidCertificateChain("x"), "untrusted_attestation"),
        (
            lib_exceptions.InvalidRegistrationResponse(
                "Attestation statement was missing x5c (TPM)"
            ),
            "bad_attestation",
        ),
        (lib_exceptions.InvalidAuthenticationResponse("something new"), "invalid"),
    ],
)
def test_library_exception_types(exception: Exception, code: str) -> None:
    assert svc._library_code(exception) == code


def test_error_carries_code_message_and_detail() -> None:
    err = WebAuthnError("bad_origin", "origin https://evil.example" + "x" * 1000)
    assert err.code == "bad_origin"
    assert "another website" in err.message
    assert len(err.detail) == 300
    assert str(err).startswith("bad_origin: origin https://evil.example")


# -- relying party configuration -----------------------------------------------------------


def test_relying_party_normalises_origins() -> None:
    rp = RelyingParty(
        id="example.org",
        name="K",
        origins=(
            "HTTPS://Login.Example.ORG:443/",
            "https://example.org:8443",
            "http://example.org:80",
        ),
    )
    assert rp.origins == (
        "https://login.example.org",
        "https://example.org:8443",
        "http://example.org",
    )
    assert RelyingParty(id="localhost", name="K", origins=("http://localhost:5000",)).origins == (
        "http://localhost:5000",
    )


@pytest.mark.parametrize(
    ("rp_id", "origins"),
    [
        pytest.param("example.org", ("https://example.org/login",), id="path"),
        pytest.param("example.org", ("https://example.org?x=1",), id="query"),
        pytest.param("example.org", ("https://user@example.org",), id="userinfo"),
        pytest.param("example.org", ("ftp://example.org",), id="scheme"),
        pytest.param("example.org", ("example.org",), id="no-scheme"),
        pytest.param("example.org", ("https://example.org:99999",), id="bad-port"),
        pytest.param("example.org", ("https://evil.example",), id="outside-rp-id"),
        pytest.param("example.org", ("https://notexample.org",), id="suffix-not-on-label"),
        pytest.param("example.org", (), id="no-origins"),
        pytest.param("example.org", "https://example.org", id="string-not-tuple"),
        pytest.param("Example.org", ("https://example.org",), id="rp-id-case"),
        pytest.param("", ("https://example.org",), id="rp-id-empty"),
    ],
)
def test_relying_party_refuses_misconfiguration(rp_id: str, origins: Any) -> None:
    with pytest.raises(ValueError):
        RelyingParty(id=rp_id, name="K", origins=origins)


def test_chromium_virtual_authenticator_aaguid_is_not_a_model() -> None:
    aaguid = str(uuid.UUID(bytes=CHROMIUM_VIRTUAL_AAGUID))
    assert aaguid == "01020304-0506-0708-0102-030405060708"
    assert model_name(aaguid) is None

"""The fixed numbers of Keystile's ceremonies: the largest body parsed at all (threat model
C.16), the longest credential id and user handle (§7.1 step 25, §5.4.3), the challenge length
(§13.4.3), the browser's timeout and the signature algorithms offered (§5.4).
"""

from __future__ import annotations

from typing import Final

from webauthn.helpers.cose import COSEAlgorithmIdentifier

#: Largest request body parsed at all (threat model C.16). Real responses are 1-3 KiB;
#: an attestation with a long certificate chain stays well under this.
MAX_RESPONSE_BYTES: Final = 64 * 1024
#: §7.1 step 25: "Verify that the credentialId is ≤ 1023 bytes" (threat model C.14).
MAX_CREDENTIAL_ID_BYTES: Final = 1023
#: §5.4.3: a user handle is at most 64 bytes.
MAX_USER_HANDLE_BYTES: Final = 64
#: §13.4.3: challenges of at least 16 random bytes; we use 32.
CHALLENGE_BYTES: Final = 32
#: How long the browser may wait for the user (a hint to the client, §5.4 / §5.5 `timeout`).
CEREMONY_TIMEOUT_MS: Final = 300_000
#: ES256, EdDSA, RS256 in order of preference (§5.4 `pubKeyCredParams`).
SUPPORTED_ALGORITHMS: Final = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)

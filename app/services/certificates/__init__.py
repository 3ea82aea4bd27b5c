"""Client certificates: strict parsing, the SPKI pin, Keystile's policy, chains and CRLs.

Plain Python: no Flask, no database, no environment. Every failure is a `CertificateError` with a
stable `code` (for audit rows and tests) and a `message` that is safe to show to the user.

Two modes use this package:

* pinned mode: the user's own (often self-signed) certificate is identified by `spki_sha256`; only
  `load_certificate` and `check_leaf_policy` apply, because trust comes from the pin itself;
* CA mode: `ClientCAVerifier` chains the leaf to the configured bundle, applies `check_leaf_policy`
  and `check_ca_mode_policy`, then checks every configured CRL (RFC 5280 §6.3).

Identity is never read from a DN string: callers map a verified leaf through its pin or an exact
`san_emails` / `san_upns` value from `describe` (threat model B.10).

Modules, each importing only those above it: `errors` (codes, `CertificateError`), `der` (the
little raw DER Keystile reads itself), `pem` (strict PEM framing), `parsing` (`load_certificate`),
`keys` (pin, key description and strength), `facts` (`describe`), `policy` (leaf checks), `crl`
(loading CRLs, freshness, revocation) and `chain` (`ClientCAVerifier`). Import from this package,
not from the modules.
"""

from app.services.certificates.chain import ClientCAVerifier
from app.services.certificates.errors import DECODE_ERRORS, CertificateError, ErrorCode
from app.services.certificates.facts import UPN_OID, CertificateFacts, describe
from app.services.certificates.keys import check_public_key_strength, key_description, spki_sha256
from app.services.certificates.parsing import MAX_INPUT_BYTES, load_certificate
from app.services.certificates.pem import pem_blocks
from app.services.certificates.policy import check_ca_mode_policy, check_leaf_policy

__all__ = [
    "DECODE_ERRORS",
    "MAX_INPUT_BYTES",
    "UPN_OID",
    "CertificateError",
    "CertificateFacts",
    "ClientCAVerifier",
    "ErrorCode",
    "check_ca_mode_policy",
    "check_leaf_policy",
    "check_public_key_strength",
    "describe",
    "key_description",
    "load_certificate",
    "pem_blocks",
    "spki_sha256",
]

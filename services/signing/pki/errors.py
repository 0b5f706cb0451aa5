"""The PKI's own branches of the platform's error tree."""

from __future__ import annotations

from services.common.errors import Conflict, Unavailable


class PkiNotInitialized(Unavailable):
    code = "pki_not_initialized"
    title = "The PKI is not initialized"


class CertificateUnusable(Conflict):
    """A certificate that must not sign: revoked, expired, not yet valid, foreign."""

    code = "certificate_unusable"
    title = "Certificate cannot be used"


class TokenError(Unavailable):
    """A PKCS#11 token that cannot be reached, logged into or used."""

    code = "token_error"
    title = "PKCS#11 token error"

"""The PKI's certificates as the signing service's KeySource."""

from __future__ import annotations

from pyhanko.sign.signers import Signer

from services.signing.pki.service import PkiService
from services.signing.signing_service import SignerIdentity


class PkiKeySource:
    def __init__(self, pki: PkiService) -> None:
        self.pki = pki

    def signer(self, agency: str, kind: str, name: str | None) -> tuple[Signer, SignerIdentity]:
        signer, record = self.pki.signer(agency, kind, name)
        return signer, SignerIdentity(
            serial=record.serial,
            subject=record.subject,
            organization=record.organization or record.common_name,
            common_name=record.common_name,
            agency=record.agency_code,
        )

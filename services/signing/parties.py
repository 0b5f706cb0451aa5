"""Who may sign a document: its parties, as document.received named them. Pure.

The signing API is called with the platform's service token on behalf of an agency
(the web app calls it for every user), so it cannot trust the caller about who signs
what. The rule, by profile (Decree 30/2020/NĐ-CP):

- ``personal``, ``organization``, ``attachment``: the document's sender only. A
  leader's signature, the agency's seal and the "attached to document No. …" stamp
  all say "we issued this"; nobody else can say it for the sender.
- ``copy``: the sender, or a recipient making a certified copy of what it received.

Any other agency is not a party and is refused (403). The certificate used must
belong to the signing agency: an organization certificate is the agency's own, and a
personal one is its holder's within that agency (the certificate's agency).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.errors import Forbidden
from services.signing.appearance import Profile

SENDER_ONLY = frozenset({Profile.PERSONAL, Profile.ORGANIZATION, Profile.ATTACHMENT})


class NotAParty(Forbidden):
    """The agency may not sign this document, or not with this certificate (403)."""

    code = "not_a_party"
    title = "Not a party to the document"


@dataclass(frozen=True)
class Parties:
    """A document's sender and recipients (agency codes)."""

    document: str
    sender: str
    recipients: tuple[str, ...]


def may_sign(profile: Profile, agency: str, parties: Parties) -> str | None:
    """None when ``agency`` may sign ``parties.document`` with ``profile``; else why not."""
    if agency == parties.sender:
        return None
    if agency in parties.recipients:
        if profile is Profile.COPY:
            return None
        return (
            f"{agency} received document {parties.document} from {parties.sender}: a "
            f"recipient may only make a certified copy (profile copy), not sign it "
            f"{profile.value}; that is the sender's to do"
        )
    return (
        f"{agency} is not a party to document {parties.document}: only its sender "
        f"{parties.sender}, or one of its recipients making a copy, may sign it"
    )


def certificate_problem(agency: str, certificate_agency: str | None, holder: str) -> str | None:
    """None when the certificate belongs to the signing agency (or says nothing, as a
    key file given to the CLI does); else why it may not sign for that agency."""
    if certificate_agency is None or certificate_agency == agency:
        return None
    return (
        f"the certificate of {holder} belongs to agency {certificate_agency}, not to {agency}; "
        "a person signs only for their own agency"
    )


def require_party(profile: Profile, agency: str, parties: Parties) -> None:
    reason = may_sign(profile, agency, parties)
    if reason:
        raise NotAParty(reason)


def require_own_certificate(agency: str, certificate_agency: str | None, holder: str) -> None:
    reason = certificate_problem(agency, certificate_agency, holder)
    if reason:
        raise NotAParty(reason)

"""The errors only ingest raises; each leaves the service as problem+json."""

from __future__ import annotations

from services.common.errors import Conflict, ValidationFailed


class NotAPdf(ValidationFailed):
    code = "not_a_pdf"
    title = "Not a readable PDF"


class EncryptedPdf(ValidationFailed):
    code = "encrypted_pdf"
    title = "Encrypted PDFs are refused"


class TransitionRejected(Conflict):
    """Routing refused a status report (409): the agency sees routing's problem code."""

    code = "transition_rejected"
    title = "Status transition rejected"

"""Errors of the signing service (the PKI's own are in ``pki/errors.py``)."""

from __future__ import annotations

from services.common.errors import ValidationFailed


class NotAPdf(ValidationFailed):
    """The file to sign or read is not a PDF the service can read (422)."""

    code = "not_a_pdf"
    title = "Not a readable PDF"

"""Errors of the signing service (the PKI's own are in ``pki/errors.py``)."""

from __future__ import annotations

from services.common.errors import Unavailable, ValidationFailed


class NotAPdf(ValidationFailed):
    """The file to sign or read is not a PDF the service can read (422)."""

    code = "not_a_pdf"
    title = "Not a readable PDF"


class PdfOverBudget(ValidationFailed):
    """Work on the PDF went over one of its budgets (time, memory, decoded bytes,
    revisions, objects): 422, naming the budget."""

    code = "pdf_over_budget"
    title = "The PDF is over a processing budget"

    def __init__(self, budget: str, detail: str) -> None:
        super().__init__(detail, [{"field": "pdf", "message": f"over the {budget} budget"}])
        self.budget = budget
        self.extra["budget"] = budget

    def __reduce__(self) -> tuple[type[PdfOverBudget], tuple[str, str]]:
        return (type(self), (self.budget, self.detail))


class PdfWorkersBusy(Unavailable):
    """Every PDF worker stayed busy for the whole queue wait: try again (503)."""

    code = "pdf_workers_busy"
    title = "PDF workers busy"

"""Refusals of an edXML package: each names the element that was wrong."""

from __future__ import annotations

from services.common.errors import LienThongError, PayloadTooLarge, ValidationFailed


class PackageRefused(ValidationFailed):
    """A package that cannot be understood (422); ``element`` is where."""

    code = "edxml_refused"
    title = "edXML package refused"

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}", [{"field": element, "message": message}])
        self.element = element
        self.extra["element"] = element


class PackageTooLarge(PayloadTooLarge):
    """A package, or one of its attachments, beyond the configured limits (413)."""

    code = "edxml_too_large"

    def __init__(self, element: str, message: str) -> None:
        super().__init__(f"{element}: {message}", element=element)
        self.element = element


def name_element(error: LienThongError, element: str) -> LienThongError:
    """Add the element to a refusal raised elsewhere (a validation of the metadata)."""
    error.extra.setdefault("element", element)
    return error

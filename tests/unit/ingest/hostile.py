"""Hostile inputs shared by the abuse tests: deep JSON, hand-made PDFs."""

from __future__ import annotations

from testkit.pdfs import write_pdf


def deep_json(depth: int, leaf: str = "1", key: str | None = None) -> str:
    """An array (or, with ``key``, an object) nested ``depth`` deep, as JSON text."""
    if key is None:
        return "[" * depth + leaf + "]" * depth
    return ('{"' + key + '":') * depth + leaf + "}" * depth


def deep_value(depth: int) -> object:
    """A dict nested ``depth`` deep, built without recursion."""
    value: object = {}
    for _ in range(depth - 1):
        value = {"x": value}
    return value


def pdf_with_count(count: str) -> bytes:
    """A one-page PDF whose page tree declares ``/Count count``, with a correct xref."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count " + count.encode() + b" >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    return write_pdf(objects)

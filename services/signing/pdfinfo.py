"""Facts about an existing PDF that signing needs: pages, and signature widgets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.common.errors import ValidationFailed
from services.signing.appearance import Box
from services.signing.errors import NotAPdf
from services.signing.pdfbudget import check_structure


@dataclass(frozen=True)
class SignatureWidget:
    field_name: str
    page: int
    box: Box
    signed: bool


def _pages(reader: object) -> list[object]:
    from pyhanko.pdf_utils import generic

    root = reader.root["/Pages"]  # type: ignore[attr-defined]
    pages: list[object] = []
    seen: set[int] = set()

    def walk(node: generic.DictionaryObject, depth: int) -> None:
        if depth > 64 or id(node) in seen:
            raise NotAPdf("the page tree is malformed (too deep or circular)")
        seen.add(id(node))
        if node.get("/Type") == "/Page" or "/Kids" not in node:
            pages.append(node)
            return
        for kid in node["/Kids"]:
            walk(kid.get_object(), depth + 1)

    walk(root, 0)
    return pages


def signature_widgets(
    path: Path, *, max_revisions: int | None = None, max_objects: int | None = None
) -> tuple[int, list[SignatureWidget]]:
    """The page count (from the page tree, never its /Count) and every signature field's
    visible widget. With budgets, a file with more revisions or objects is refused
    (``PdfOverBudget``) before its pages are walked."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    try:
        with path.open("rb") as f:
            reader = PdfFileReader(f, strict=False)
            if max_revisions is not None or max_objects is not None:
                check_structure(
                    reader,
                    max_revisions=max_revisions or 1 << 62,
                    max_objects=max_objects or 1 << 62,
                )
            pages = _pages(reader)
            widgets = []
            for name, value, ref in enumerate_sig_fields(reader, filled_status=None):
                field = ref.get_object()
                widget = field
                if "/Rect" not in widget and "/Kids" in field:
                    widget = field["/Kids"][0].get_object()
                rect = [float(v) for v in widget.get("/Rect", [0, 0, 0, 0])]
                if rect[2] - rect[0] <= 0 or rect[3] - rect[1] <= 0:
                    continue  # an invisible signature
                page_ref = widget.get("/P")
                page = next(
                    (
                        i
                        for i, p in enumerate(pages)
                        if page_ref is not None and p is page_ref.get_object()
                    ),
                    len(pages) - 1,
                )
                x1, x2 = sorted((rect[0], rect[2]))
                y1, y2 = sorted((rect[1], rect[3]))
                widgets.append(
                    SignatureWidget(str(name), page, Box(x1, y1, x2, y2), value is not None)
                )
            return len(pages), widgets
    except (ValidationFailed, MemoryError):  # NotAPdf, PdfOverBudget; memory is a budget
        raise
    except Exception as e:
        raise NotAPdf(f"the PDF cannot be read: {type(e).__name__}: {e}") from e

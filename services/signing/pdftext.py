"""Text lines with their positions, to place a signature next to the signer's name."""

from __future__ import annotations

from pathlib import Path

from services.common.errors import ValidationFailed
from services.signing.appearance import Box, Page, TextLine
from services.signing.errors import NotAPdf
from services.signing.pdfbudget import decoded_budget


def read_page(
    path: Path, index: int | None = None, *, max_decoded_bytes: int | None = None
) -> Page:
    """One page's text lines (the last page when ``index`` is None), in PDF coordinates.

    ``max_decoded_bytes`` bounds what pdfminer may decode (``PdfOverBudget`` beyond).
    For an untrusted file run it in the PDF pool (:mod:`services.signing.pdfwork`)."""
    if max_decoded_bytes is None:
        return _read_page(path, index)
    with decoded_budget(max_decoded_bytes):
        return _read_page(path, index)


def _read_page(path: Path, index: int | None) -> Page:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextContainer, LTTextLine
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    try:
        with path.open("rb") as f:  # parsed once: the page count and the page itself
            pages = list(PDFPage.create_pages(PDFDocument(PDFParser(f))))
            count = len(pages)
            if count == 0:
                raise NotAPdf("the PDF has no pages")
            wanted = count - 1 if index is None else index
            if not 0 <= wanted < count:
                raise NotAPdf(f"the PDF has {count} pages; there is no page {wanted + 1}")
            resources = PDFResourceManager()
            device = PDFPageAggregator(resources, laparams=LAParams())
            PDFPageInterpreter(resources, device).process_page(pages[wanted])
            layout = device.get_result()
    except (ValidationFailed, MemoryError):  # NotAPdf, PdfOverBudget; memory is a budget
        raise
    except Exception as e:
        raise NotAPdf(f"the PDF's text cannot be read: {type(e).__name__}: {e}") from e
    lines: list[TextLine] = []
    for element in layout:
        if not isinstance(element, LTTextContainer):
            continue
        for line in element:
            if isinstance(line, LTTextLine) and line.get_text().strip():
                x1, y1, x2, y2 = line.bbox
                if x2 > x1 and y2 > y1:
                    lines.append(TextLine(line.get_text().strip(), Box(x1, y1, x2, y2)))
    x1, y1, x2, y2 = layout.bbox
    return Page(index=wanted, box=Box(x1, y1, x2, y2), lines=tuple(lines))


def is_scanned(path: Path, *, max_decoded_bytes: int | None = None) -> bool:
    """Whether the document is a scan of paper: its pages carry images and no text
    layer at all (text drawn in the pages' content; a signature's appearance is an
    annotation, not page content, so a stamped scan is still a scan). Reading stops
    at the first page with text. ``NotAPdf`` when the pages cannot be read."""
    if max_decoded_bytes is None:
        return _is_scanned(path)
    with decoded_budget(max_decoded_bytes):
        return _is_scanned(path)


def _is_scanned(path: Path) -> bool:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LTChar, LTContainer, LTImage, LTItem
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    def walk(item: LTItem) -> tuple[bool, bool]:
        """(has text, has an image) below ``item``."""
        if isinstance(item, LTChar):
            return bool(item.get_text().strip()), False
        if isinstance(item, LTImage):
            return False, True
        text = image = False
        if isinstance(item, LTContainer):
            for child in item:
                t, i = walk(child)
                text, image = text or t, image or i
                if text:
                    break
        return text, image

    images = False
    try:
        with path.open("rb") as f:
            resources = PDFResourceManager(caching=True)
            device = PDFPageAggregator(resources, laparams=None)
            interpreter = PDFPageInterpreter(resources, device)
            for page in PDFPage.get_pages(f):
                interpreter.process_page(page)
                text, image = walk(device.get_result())
                if text:
                    return False
                images = images or image
    except (ValidationFailed, MemoryError):
        raise
    except Exception as e:
        raise NotAPdf(f"the PDF's pages cannot be read: {type(e).__name__}: {e}") from e
    return images

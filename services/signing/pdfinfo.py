"""Facts about an existing PDF that signing needs: pages, and signature widgets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class DocumentFacts:
    """The page count, the signature widgets, and for the pages asked about a
    fingerprint of what their text is read from (:func:`page_fingerprint`)."""

    pages: int
    widgets: list[SignatureWidget]
    page_keys: dict[int, str] = field(default_factory=dict)


#: Inherited page attributes that decide what a page's text is and where it sits.
_TEXT_ATTRIBUTES = ("/Resources", "/MediaBox", "/CropBox", "/Rotate", "/UserUnit")


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
    path: Path,
    *,
    max_revisions: int | None = None,
    max_objects: int | None = None,
    fingerprint: tuple[int, ...] = (),
) -> DocumentFacts:
    """The page count (from the page tree, never its /Count) and every signature field's
    visible widget. With budgets, a file with more revisions or objects is refused
    (``PdfOverBudget``) before its pages are walked. ``fingerprint``: page indices
    (negative from the end) whose :func:`page_fingerprint` to add, where one exists."""
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
            keys: dict[int, str] = {}
            if reader.security_handler is None:  # encrypted text is not fingerprinted
                for wanted in fingerprint:
                    if -len(pages) <= wanted < len(pages):
                        index = wanted % len(pages)
                        keys[index] = page_fingerprint(pages[index], max_objects or 1 << 62)
            return DocumentFacts(len(pages), widgets, keys)
    except (ValidationFailed, MemoryError):  # NotAPdf, PdfOverBudget; memory is a budget
        raise
    except Exception as e:
        raise NotAPdf(f"the PDF cannot be read: {type(e).__name__}: {e}") from e


def page_fingerprint(page: object, max_objects: int) -> str:
    """A SHA-256 over everything a page's text lines are read from: its content streams
    (as stored, with their filters), every object its resources reach (fonts and their
    CMaps, forms, images), and the inherited boxes and rotation. Two revisions of a
    document whose page differs only in its annotations (a signature added) have the
    same fingerprint, so the text read once serves both."""
    from pyhanko.pdf_utils import generic

    digest = hashlib.sha256()
    node: generic.DictionaryObject = page  # type: ignore[assignment]
    parts: list[tuple[str, generic.PdfObject]] = [("/Contents", node.raw_get("/Contents"))]
    parts = [(k, v) for k, v in parts if v is not None]
    for attribute in _TEXT_ATTRIBUTES:
        holder, depth = node, 0
        while attribute not in holder and "/Parent" in holder and depth < 64:
            holder, depth = holder["/Parent"], depth + 1
        if attribute in holder:
            parts.append((attribute, holder.raw_get(attribute)))
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[str, generic.PdfObject] | bytes] = list(reversed(parts))
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            digest.update(item)
            continue
        name, obj = item
        digest.update(b"\x00" + name.encode("latin-1", "replace"))
        if isinstance(obj, generic.IndirectObject):
            ref = (obj.idnum, obj.generation)
            digest.update(b"R%d.%d" % ref)
            if ref in seen:
                continue
            if len(seen) >= max_objects:
                raise NotAPdf("the page reaches more objects than the PDF holds")
            seen.add(ref)
            obj = obj.get_object()
        if isinstance(obj, generic.DictionaryObject):
            children: list[tuple[str, generic.PdfObject] | bytes] = [b"<<"]
            children += [(str(k), obj.raw_get(k)) for k in sorted(obj) if k != "/Parent"]
            if isinstance(obj, generic.StreamObject):
                data = obj.encoded_data
                children.append(b"stream%d:" % len(data) + data)
            children.append(b">>")
            stack.extend(reversed(children))
        elif isinstance(obj, generic.ArrayObject):
            stack.extend(reversed([b"[", *[("", v) for v in obj], b"]"]))
        else:
            digest.update(type(obj).__name__.encode() + b":" + repr(obj).encode())
    return digest.hexdigest()

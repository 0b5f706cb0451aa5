"""The signed letter the change attacks start from, and small builders for the PDF
objects they add in a later incremental update (pyHanko's incremental writer)."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from services.common.contract import Verdict
from services.signing.verification import Verifier
from testkit.pdfs import write_pdf

Edit = Callable[[IncrementalPdfFileWriter], None]
N = generic.pdf_name


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


FIRST = b"BT /F1 18 Tf 72 720 Td (Pay 100 000 VND) Tj ET"
SECOND = b"BT /F1 18 Tf 72 690 Td (only after the board approves) Tj ET"


def letter() -> bytes:
    """Two pages; page 1 draws two content streams through an indirect /Contents array
    (as many producers write it), and its /Resources are indirect too."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 8 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 7 0 R /Contents 6 0 R >>",
        _stream(FIRST),
        _stream(SECOND),
        b"[4 0 R 5 0 R]",
        b"<< /Font << /F1 10 0 R >> >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 7 0 R /Contents 9 0 R >>",
        _stream(b"BT /F1 18 Tf 72 720 Td (Annex: payment schedule) Tj ET"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return write_pdf(objects)


def update(pdf: bytes, edit: Edit) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    edit(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_ref(writer: IncrementalPdfFileWriter, index: int = 0) -> generic.IndirectObject:
    ref = writer.root["/Pages"]["/Kids"].raw_get(index)
    assert isinstance(ref, generic.IndirectObject)
    return ref


def nums(*values: float) -> generic.ArrayObject:
    return generic.ArrayObject(generic.FloatObject(v) for v in values)


def form(
    data: bytes, width: float, height: float, **extra: generic.PdfObject
) -> generic.StreamObject:
    entries: dict[generic.NameObject, generic.PdfObject] = {
        N("/Type"): N("/XObject"),
        N("/Subtype"): N("/Form"),
        N("/BBox"): nums(0, 0, width, height),
    }
    entries.update({N("/" + k): v for k, v in extra.items()})
    return generic.StreamObject(generic.DictionaryObject(entries), stream_data=data)


def helv() -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            N("/Type"): N("/Font"),
            N("/Subtype"): N("/Type1"),
            N("/BaseFont"): N("/Helvetica"),
        }
    )


def multiply(**more: generic.PdfObject) -> generic.DictionaryObject:
    """Appearance resources with one Multiply graphics state /GS0 (and ``more``)."""
    res = generic.DictionaryObject(
        {
            N("/ExtGState"): generic.DictionaryObject(
                {N("/GS0"): generic.DictionaryObject({N("/BM"): N("/Multiply")})}
            ),
            N("/Font"): generic.DictionaryObject({N("/Helv"): helv()}),
        }
    )
    res.update({N("/" + k): v for k, v in more.items()})
    return res


def new_annot(
    writer: IncrementalPdfFileWriter,
    subtype: str,
    rect: tuple[float, float, float, float],
    appearance: generic.PdfObject | None = None,
    **extra: generic.PdfObject,
) -> generic.IndirectObject:
    annot = generic.DictionaryObject(
        {
            N("/Type"): N("/Annot"),
            N("/Subtype"): N(subtype),
            N("/Rect"): nums(*rect),
            N("/F"): generic.NumberObject(4),
            N("/Contents"): generic.TextStringObject("ok"),
            N("/P"): page_ref(writer),
        }
    )
    if subtype in ("/Highlight", "/Underline", "/Squiggly"):
        x1, y1, x2, y2 = rect
        annot[N("/QuadPoints")] = nums(x1, y2, x2, y2, x1, y1, x2, y1)
    if appearance is not None:
        annot[N("/AP")] = generic.DictionaryObject({N("/N"): appearance})
    annot.update({N("/" + k): v for k, v in extra.items()})
    return writer.add_object(annot)


def attach(writer: IncrementalPdfFileWriter, *annots: generic.IndirectObject) -> None:
    page = page_ref(writer).get_object()
    old = page.get("/Annots", generic.ArrayObject())
    page[N("/Annots")] = generic.ArrayObject([*old, *annots])
    writer.update_container(page)


def struct_tree(writer: IncrementalPdfFileWriter, *kids: generic.PdfObject) -> None:
    """A new structure tree whose one paragraph element lists ``kids`` in its /K."""
    tree = generic.DictionaryObject({N("/Type"): N("/StructTreeRoot")})
    tree_ref = writer.add_object(tree)
    elem = generic.DictionaryObject(
        {
            N("/Type"): N("/StructElem"),
            N("/S"): N("/P"),
            N("/P"): tree_ref,
            N("/Pg"): page_ref(writer),
            N("/K"): generic.ArrayObject([generic.NumberObject(0), *kids]),
        }
    )
    tree[N("/K")] = generic.ArrayObject([writer.add_object(elem)])
    writer.root[N("/StructTreeRoot")] = tree_ref
    writer.update_root()


def dests(writer: IncrementalPdfFileWriter, **extra: generic.PdfObject) -> None:
    """Named destinations added; the destination dictionary carries ``extra`` keys."""
    dest = generic.DictionaryObject({N("/D"): generic.ArrayObject([page_ref(writer), N("/Fit")])})
    dest.update({N("/" + k): v for k, v in extra.items()})
    tree = generic.DictionaryObject(
        {N("/Names"): generic.ArrayObject([generic.TextStringObject("muc1"), dest])}
    )
    names = generic.DictionaryObject({N("/Dests"): writer.add_object(tree)})
    writer.root[N("/Names")] = writer.add_object(names)
    writer.update_root()


LINE = (70.0, 714.0, 240.0, 740.0)  # over "Pay 100 000 VND"
DIGITS = (107.0, 714.0, 140.0, 740.0)  # over "100"


def highlight(
    writer: IncrementalPdfFileWriter, data: bytes, **resources: generic.PdfObject
) -> None:
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    ap = writer.add_object(form(data, w, h, Resources=multiply(**resources)))
    attach(writer, new_annot(writer, "/Highlight", LINE, ap))


def free_text(writer: IncrementalPdfFileWriter, flags: generic.PdfObject) -> None:
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): helv()})}
    )
    ap = writer.add_object(
        form(
            b"1 1 1 rg 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            w,
            h,
            Resources=resources,
        )
    )
    attach(writer, new_annot(writer, "/FreeText", LINE, ap, F=flags))


def uri(target: str) -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {N("/S"): N("/URI"), N("/URI"): generic.TextStringObject(target)}
    )


def verdict_of(verifier: Verifier, pdf: bytes) -> Verdict:
    return verifier.verify(pdf).verdict


def fixed(case_id: str, attack: object, why: str) -> object:
    """An attack that got through an earlier version of the change rules for the
    reason ``why``; it is refused now, and this case keeps it so."""
    return pytest.param(attack, id=case_id)

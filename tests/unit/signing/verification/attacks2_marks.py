"""Builders for the second review's change attacks on annotations and revisions
(test_change_attacks_2.py): appearances that read one way to the checker and another
to a reader, icon-sized notes, several revisions, and raw xref updates."""

from __future__ import annotations

import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields

from tests.unit.signing.verification.attack_pdfs import (
    DIGITS,
    LINE,
    N,
    attach,
    form,
    highlight,
    multiply,
    new_annot,
    nums,
    struct_tree,
    update,
)

# ------------------------------------------------------------ appearance lexing


def highlight_with_extra_colour_operands(writer: IncrementalPdfFileWriter) -> None:
    """``0 0 0 0 rg``: the checker reads four operands as CMYK white; a reader takes
    the last three (poppler: "Too many args", then uses the top of the stack) and
    fills black, which Multiply keeps black over "Pay 100 000 VND"."""
    highlight(writer, b"/GS0 gs 0 0 0 0 rg 0 0 170 26 re f")


def highlight_with_gray_from_rgb_operands(writer: IncrementalPdfFileWriter) -> None:
    """``1 1 0 g``: three operands read as light yellow, a reader takes the last: 0."""
    highlight(writer, b"/GS0 gs 1 1 0 g 0 0 170 26 re f")


def _black_transfer() -> generic.DictionaryObject:
    """A transfer function that maps every colour component to 0."""
    return generic.DictionaryObject(
        {
            N("/FunctionType"): generic.NumberObject(2),
            N("/Domain"): nums(0, 1),
            N("/C0"): nums(0),
            N("/C1"): nums(0),
            N("/N"): generic.NumberObject(1),
        }
    )


def highlight_with_transfer_function(writer: IncrementalPdfFileWriter, key: str = "/TR") -> None:
    """The Multiply graphics state also sets a transfer function that maps the light
    fill to black: the checker looks at /BM and /SMask only."""
    state = generic.DictionaryObject({N("/BM"): N("/Multiply"), N(key): _black_transfer()})
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    resources = generic.DictionaryObject(
        {N("/ExtGState"): generic.DictionaryObject({N("/GS0"): state})}
    )
    ap = writer.add_object(form(b"/GS0 gs 1 1 0 rg 0 0 170 26 re f", w, h, Resources=resources))
    attach(writer, new_annot(writer, "/Highlight", LINE, ap))


def highlight_with_transfer_function_2(writer: IncrementalPdfFileWriter) -> None:
    highlight_with_transfer_function(writer, "/TR2")


HIDDEN_TAIL = b"\n0 g 0 0 170 26 re f"


def highlight_with_short_length(pdf: bytes) -> bytes:
    """A light highlight whose appearance stream hides a black fill past its /Length:
    the update is written, then /Length is shortened in place (same width, so the
    xref offsets hold). A reader that finds no 'endstream' at /Length scans for it
    (poppler) and reads the black fill too."""
    visible_part = b"/GS0 gs 1 1 0 rg 0 0 170 26 re f"
    out = update(pdf, lambda w: highlight(w, visible_part + HIDDEN_TAIL))
    full = len(visible_part + HIDDEN_TAIL)
    old = b"/Length %d" % full
    new = (b"/Length %d" % len(visible_part)).ljust(len(old))
    head = out[: len(pdf)]
    tail = out[len(pdf) :]
    assert tail.count(old) == 1
    return head + tail.replace(old, new)


# ---------------------------------------------------------------- sticky notes


_SEGMENTS = {  # digits as a seven-segment display draws them: (x, y, width, height)
    "9": [
        (1, 22, 8, 3),
        (1, 13, 3, 11),
        (7, 13, 3, 11),
        (1, 12, 8, 3),
        (7, 2, 3, 11),
        (1, 1, 8, 3),
    ],
    "0": [(1, 22, 8, 3), (1, 2, 3, 22), (7, 2, 3, 22), (1, 1, 8, 3)],
}


def _digits(text: str) -> bytes:
    out = b""
    for i, ch in enumerate(text):
        for x, y, w, h in _SEGMENTS[ch]:
            out += b"%d %d %d %d re " % (x + 11 * i, y, w, h)
    return out + b"f"


def note_drawing_digits_with_paths(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note of icon size whose appearance uses shapes only: a white patch
    over "100" and "900" drawn as filled rectangles (a seven-segment display)."""
    w, h = DIGITS[2] - DIGITS[0], DIGITS[3] - DIGITS[1]
    data = b"1 g 0 0 33 26 re f 0 g " + _digits("900")
    ap = writer.add_object(form(data, w, h))
    attach(writer, new_annot(writer, "/Text", DIGITS, ap))


def notes_tiling_a_clause(writer: IncrementalPdfFileWriter) -> None:
    """Icon-sized notes, each a white square of shapes only, side by side: together
    they erase the whole second sentence of the letter."""
    tiles = []
    for i in range(9):
        rect = (70.0 + 36 * i, 684.0, 106.0 + 36 * i, 712.0)
        ap = writer.add_object(form(b"1 g 0 0 36 28 re f", 36, 28))
        tiles.append(new_annot(writer, "/Text", rect, ap))
    attach(writer, *tiles)


def plain_note(writer: IncrementalPdfFileWriter) -> None:
    attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800), None))


def comment_given_an_appearance_later(writer: IncrementalPdfFileWriter) -> None:
    """Revision 3 edits a plain sticky note of revision 2: it now has an appearance
    (a white patch with another amount) and a Rect over the amount."""
    page = generic.IndirectObject(3, 0, writer).get_object()
    note = next(a.get_object() for a in page["/Annots"] if a.get_object()["/Subtype"] == "/Text")
    ap = writer.add_object(form(b"1 g 0 0 33 26 re f 0 g " + _digits("900"), 33, 26))
    note[N("/AP")] = generic.DictionaryObject({N("/N"): ap})
    note[N("/Rect")] = nums(*DIGITS)
    writer.update_container(note)
    writer.update_container(page)


def _overlay_appearance(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/F1"): generic.IndirectObject(10, 0, writer)})}
    )
    return writer.add_object(
        form(
            b"1 g 0 0 170 26 re f 0 g BT /F1 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            170,
            26,
            Resources=resources,
        )
    )


def empty_signature_field_over_amount(writer: IncrementalPdfFileWriter) -> None:
    """The "sneaky signature" attack: a new, unsigned signature field whose widget sits
    over the amount, with an appearance that writes another one. Widgets are left to
    the form rules, which allow new signature fields."""
    x1, y1, x2, y2 = (int(v) for v in LINE)
    fields.append_signature_field(writer, fields.SigFieldSpec("Sig2", box=(x1, y1, x2, y2)))
    page = generic.IndirectObject(3, 0, writer).get_object()
    widget = next(a.get_object() for a in page["/Annots"] if a.get_object().get("/T") == "Sig2")
    widget[N("/AP")] = generic.DictionaryObject({N("/N"): _overlay_appearance(writer)})
    writer.update_container(widget)


# ------------------------------------------------------------ several revisions


def _payload(writer: IncrementalPdfFileWriter) -> generic.IndirectObject:
    """A free-text overlay over "Pay 100 000 VND" written without ``/Type /Annot`` (it
    is optional): nothing about its shape says it is an annotation."""
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/F1"): generic.IndirectObject(10, 0, writer)})}
    )
    ap = writer.add_object(
        form(
            b"1 g 0 0 170 26 re f 0 g BT /F1 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            170,
            26,
            Resources=resources,
        )
    )
    overlay = generic.DictionaryObject(
        {
            N("/Subtype"): N("/FreeText"),
            N("/Rect"): nums(*LINE),
            N("/F"): generic.NumberObject(4),
            N("/DA"): generic.TextStringObject("0 g /F1 18 Tf"),
            N("/AP"): generic.DictionaryObject({N("/N"): ap}),
        }
    )
    return writer.add_object(overlay)


def stage_overlay(writer: IncrementalPdfFileWriter) -> None:
    """Step 1, each part allowed: a plain sticky note (the overlay rides, unused, in
    its appearance's resources), page 1's /Annots made an indirect array, and a new
    structure tree that lists that array as a kid."""
    payload = _payload(writer)
    resources = generic.DictionaryObject(
        {N("/XObject"): generic.DictionaryObject({N("/Unused"): payload})}
    )
    ap = writer.add_object(form(b"1 1 0 rg 2 2 16 16 re f", 20, 20, Resources=resources))
    note = new_annot(writer, "/Text", (500, 780, 520, 800), ap)
    page = generic.IndirectObject(3, 0, writer).get_object()
    old = list(page.get("/Annots", generic.ArrayObject()))
    annots = writer.add_object(generic.ArrayObject([*old, note]))
    page[N("/Annots")] = annots
    writer.update_container(page)
    struct_tree(writer, annots)


def release_overlay(writer: IncrementalPdfFileWriter) -> None:
    """Step 2: the overlay appended to the /Annots array, now "part of the structure
    tree"; the page dictionary does not change."""
    page = generic.IndirectObject(3, 0, writer).get_object()
    raw = page.raw_get("/Annots")
    annots = raw.get_object()
    note = annots[-1]
    ap = note["/AP"]["/N"]
    payload = ap["/Resources"]["/XObject"].raw_get("/Unused")
    annots.append(payload)
    writer.mark_update(raw)


def reuse_clause_number(writer: IncrementalPdfFileWriter) -> None:
    """Writes object 5 again with generation 1 (new content: another condition) and
    has a sticky note's appearance list ``5 1 R`` among resources it never uses: a
    reference with a new generation is "fresh"; readers that ignore the generation
    draw it for the page's ``5 0 R``."""
    stream = generic.StreamObject(
        generic.DictionaryObject(),
        stream_data=b"BT /F1 18 Tf 72 690 Td (payable at once, no approval needed) Tj ET",
    )
    writer.objects[(1, 5)] = stream
    resources = generic.DictionaryObject(
        {
            N("/XObject"): generic.DictionaryObject(
                {N("/Unused"): generic.IndirectObject(5, 1, writer)}
            )
        }
    )
    ap = writer.add_object(form(b"1 1 0 rg 2 2 16 16 re f", 20, 20, Resources=resources))
    attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800), ap))


# ------------------------------------------------------------ raw xref updates


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def free_object(pdf: bytes, number: int, generation: int = 1) -> bytes:
    """An incremental update whose only content is a classic xref section marking
    ``number`` free (deleted): references to it now resolve to null."""
    m = _STARTXREF.search(pdf)
    assert m is not None
    prev = int(m.group(1))
    size = _size(pdf)
    body = pdf if pdf.endswith(b"\n") else pdf + b"\n"
    offset = len(body)
    section = (
        b"xref\n0 1\n0000000000 65535 f \n%d 1\n0000000000 %05d f \n"
        b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
        % (number, generation, size, prev, offset)
    )
    return body + section


def _size(pdf: bytes) -> int:
    return max(int(v) for v in re.findall(rb"/Size\s+(\d+)", pdf))


def with_empty_signature_field(pdf: bytes) -> bytes:
    """The document gets an empty signature field "Sig2" over the amount (for a second
    signer), before anyone signs."""

    def add(writer: IncrementalPdfFileWriter) -> None:
        x1, y1, x2, y2 = (int(v) for v in LINE)
        fields.append_signature_field(writer, fields.SigFieldSpec("Sig2", box=(x1, y1, x2, y2)))

    return update(pdf, add)


def draw_in_empty_signature_field(writer: IncrementalPdfFileWriter) -> None:
    """Gives the unsigned field's widget an appearance that covers the amount and
    writes another one; nobody signs it."""
    page = generic.IndirectObject(3, 0, writer).get_object()
    widget = next(a.get_object() for a in page["/Annots"] if a.get_object().get("/T") == "Sig2")
    widget[N("/AP")] = generic.DictionaryObject({N("/N"): _overlay_appearance(writer)})
    writer.update_container(widget)


APPROVAL = (70.0, 684.0, 300.0, 710.0)  # over the green "APPROVED by the board"


def green_highlight_over_green_text(writer: IncrementalPdfFileWriter) -> None:
    """A pure green highlight (luminance 0.72, "light") multiplied over pure green text:
    text and background both come out (0, 1, 0), and the approval disappears."""
    w, h = APPROVAL[2] - APPROVAL[0], APPROVAL[3] - APPROVAL[1]
    data = b"/GS0 gs 0 1 0 rg 0 0 %d %d re f" % (w, h)
    ap = writer.add_object(form(data, w, h, Resources=multiply()))
    attach(writer, new_annot(writer, "/Highlight", APPROVAL, ap))


def green_viewer_highlight_over_green_text(writer: IncrementalPdfFileWriter) -> None:
    """The same without an appearance: the viewer draws the highlight in its /C."""
    attach(writer, new_annot(writer, "/Highlight", APPROVAL, None, C=nums(0, 1, 0)))

"""Builders for the second review's attacks on documents the attacker prepares
(test_change_attacks_2.py): the "shadow" attacker writes the document the victim
signs, with an object that the signed structure tree shares with what a reader draws
or runs, and changes that object in a later incremental update."""

from __future__ import annotations

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from testkit.pdfs import write_pdf
from tests.unit.signing.verification.attack_pdfs import (
    FIRST,
    SECOND,
    N,
    attach,
    form,
    new_annot,
)


def _stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def prepared_letter(
    *extra: bytes,
    catalog: bytes = b"",
    page: bytes = b"",
    contents: bytes = b"[4 0 R 5 0 R]",
    resources: bytes = b"<< /Font << /F1 10 0 R >> >>",
    font: bytes = b"",
    second: bytes = SECOND,
    tree: bytes | None = b"/K []",
) -> bytes:
    """The letter of attack_pdfs.letter (objects 1-10), with ``extra`` objects from 11
    on, and the given additions to the catalog, page 1, its /Contents array and
    /Resources, and the font. ``tree``: the keys of a structure element 12 0 R under a
    structure tree root 11 0 R (``extra`` then starts at 13); None: no tree."""
    if tree is not None:
        catalog += b" /StructTreeRoot 11 0 R"
        extra = (
            b"<< /Type /StructTreeRoot /K [12 0 R] >>",
            b"<< /Type /StructElem /S /Document /P 11 0 R " + tree + b" >>",
            *extra,
        )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R" + catalog + b" >>",
        b"<< /Type /Pages /Kids [3 0 R 8 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 7 0 R "
        b"/Contents 6 0 R" + page + b" >>",
        _stream(FIRST),
        _stream(second),
        contents,
        resources,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 7 0 R /Contents 9 0 R >>",
        _stream(b"BT /F1 18 Tf 72 720 Td (Annex: payment schedule) Tj ET"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica" + font + b" >>",
        *extra,
    ]
    return write_pdf(objects)


def shared_array_letter() -> bytes:
    """Page 1's content array (6 0 R) is also the /K of a structure element: an array
    of the structure tree, as far as the structure rule sees."""
    return prepared_letter(tree=b"/K 6 0 R")


def drop_clause_from_shared_array(writer: IncrementalPdfFileWriter) -> None:
    """Rewrites the shared array without the second content stream."""
    contents = generic.IndirectObject(6, 0, writer).get_object()
    assert isinstance(contents, generic.ArrayObject)
    del contents[1]
    writer.mark_update(generic.IndirectObject(6, 0, writer))


def optional_letter() -> bytes:
    """The second sentence is optional content (on by default); the default
    configuration's /OFF array (14 0 R, empty) is also a kid of a structure element."""
    return prepared_letter(
        b"<< /Type /OCG /Name (Clause) >>",
        b"[]",
        catalog=b" /OCProperties << /OCGs [13 0 R] /D << /OFF 14 0 R >> >>",
        resources=b"<< /Font << /F1 10 0 R >> /Properties << /oc1 13 0 R >> >>",
        second=b"/OC /oc1 BDC " + SECOND + b" EMC",
        tree=b"/K 14 0 R",
    )


def switch_clause_off(writer: IncrementalPdfFileWriter) -> None:
    """Puts the clause's optional content group in the shared /OFF array."""
    off = generic.IndirectObject(14, 0, writer).get_object()
    assert isinstance(off, generic.ArrayObject)
    off.append(generic.IndirectObject(13, 0, writer))
    writer.mark_update(generic.IndirectObject(14, 0, writer))


def shared_annots_letter() -> bytes:
    """Page 1's /Annots is an indirect empty array (13 0 R) that is also a kid of a
    structure element; a free-text overlay (14 0 R) sits in the file, on no page
    (reached only through an object reference of the structure tree)."""
    appearance = b"1 g 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET"
    return prepared_letter(
        b"[]",
        b"<< /Type /Annot /Subtype /FreeText /Rect [70 714 240 740] /F 4 "
        b"/Contents (ok) /DA (0 g /Helv 18 Tf) /AP << /N 15 0 R >> >>",
        b"<< /Type /XObject /Subtype /Form /BBox [0 0 170 26] /Resources << /Font << "
        b"/Helv 10 0 R >> >> /Length %d >>\nstream\n"
        % len(appearance)
        + appearance
        + b"\nendstream",
        b"<< /Type /OBJR /Obj 14 0 R /Pg 3 0 R >>",
        page=b" /Annots 13 0 R",
        tree=b"/K [13 0 R 16 0 R]",
    )


def put_overlay_on_page(writer: IncrementalPdfFileWriter) -> None:
    """Appends the overlay to the shared /Annots array: the page dictionary itself
    does not change, so no annotation rule (or inventory) looks at the page."""
    annots = generic.IndirectObject(13, 0, writer).get_object()
    assert isinstance(annots, generic.ArrayObject)
    annots.append(generic.IndirectObject(14, 0, writer))
    writer.mark_update(generic.IndirectObject(13, 0, writer))


def shared_encoding_letter() -> bytes:
    """The font's /Differences array (13 0 R, empty) is also a kid of a structure
    element."""
    return prepared_letter(
        b"[]",
        font=b" /Encoding << /BaseEncoding /WinAnsiEncoding /Differences 13 0 R >>",
        tree=b"/K [13 0 R]",
    )


def one_becomes_nine(writer: IncrementalPdfFileWriter) -> None:
    """The shared array now maps code 49 ('1') to the glyph 'nine': the content streams
    do not change, "Pay 100 000 VND" reads "Pay 900 000 VND"."""
    diffs = generic.IndirectObject(13, 0, writer).get_object()
    assert isinstance(diffs, generic.ArrayObject)
    diffs.extend([generic.NumberObject(49), N("/nine")])
    writer.mark_update(generic.IndirectObject(13, 0, writer))


def shared_javascript_letter() -> bytes:
    """The document-level JavaScript name tree (13 0 R) is empty and also a kid of a
    structure element; a JavaScript action (14 0 R) sits in the file, used by nothing."""
    return prepared_letter(
        b"<< /Names [] >>",
        b"<< /S /JavaScript /JS (app.alert\\('Pay to account 0451 000 999 instead'\\);) >>",
        catalog=b" /Names << /JavaScript 13 0 R >>",
        tree=b"/K [13 0 R]",
    )


def register_javascript(writer: IncrementalPdfFileWriter) -> None:
    """Names the waiting action in the shared (structure-shaped) name-tree node: it
    runs when the document opens."""
    node = generic.IndirectObject(13, 0, writer).get_object()
    node[N("/Names")] = generic.ArrayObject(
        [generic.TextStringObject("open"), generic.IndirectObject(14, 0, writer)]
    )
    writer.mark_update(generic.IndirectObject(13, 0, writer))


DANGLING = 40  # an object number the signed document references but never defines


def dangling_letter() -> bytes:
    """Page 1 also draws the form XObject /X1 = 40 0 R, an object the document does
    not define: a reader draws nothing for it (a null reference)."""
    return prepared_letter(
        resources=b"<< /Font << /F1 10 0 R >> /XObject << /X1 %d 0 R >> >>" % DANGLING,
        second=SECOND + b" q /X1 Do Q",
        tree=None,
    )


def _overlay_xobject() -> generic.StreamObject:
    """Covers "Pay 100 000 VND" with white and writes another amount."""
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/F1"): generic.IndirectObject(10, 0, None)})}
    )
    return form(
        b"1 g 60 700 400 60 re f 0 g BT /F1 18 Tf 72 720 Td (Pay 900 000 VND) Tj ET",
        595,
        842,
        Resources=resources,
    )


def fill_dangling_through_note(writer: IncrementalPdfFileWriter) -> None:
    """A plain sticky note whose appearance stream lists, among resources it never
    uses, object 40: created now, it is in the note's fresh closure, and the signed
    page draws it (as /X1 = 40 0 R)."""
    xobj = _overlay_xobject()
    xobj.get_object()[N("/Resources")][N("/Font")][N("/F1")] = generic.IndirectObject(10, 0, writer)
    _place(writer, xobj)
    target = generic.IndirectObject(DANGLING, 0, writer)
    resources = generic.DictionaryObject(
        {N("/XObject"): generic.DictionaryObject({N("/Unused"): target})}
    )
    ap = writer.add_object(form(b"1 1 0 rg 2 2 16 16 re f", 20, 20, Resources=resources))
    attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800), ap))


def fill_dangling_alone(writer: IncrementalPdfFileWriter) -> None:
    """Object 40 created and nothing else: no rule needs to vouch for the page."""
    xobj = _overlay_xobject()
    xobj.get_object()[N("/Resources")][N("/Font")][N("/F1")] = generic.IndirectObject(10, 0, writer)
    _place(writer, xobj)


def _place(writer: IncrementalPdfFileWriter, obj: generic.PdfObject) -> None:
    """Writes ``obj`` as object ``DANGLING`` (the writer's table of new objects)."""
    assert writer._lastobj_id < DANGLING
    writer.objects[(0, DANGLING)] = obj
    writer._lastobj_id = DANGLING


def switch_clause_off_in_catalog(writer: IncrementalPdfFileWriter) -> None:
    """Rewrites the catalog's /OCProperties so that the default configuration turns
    the clause off (no shared object involved)."""
    clause = generic.IndirectObject(13, 0, writer)
    writer.root[N("/OCProperties")] = generic.DictionaryObject(
        {
            N("/OCGs"): generic.ArrayObject([clause]),
            N("/D"): generic.DictionaryObject({N("/OFF"): generic.ArrayObject([clause])}),
        }
    )
    writer.update_root()


def linked_letter() -> bytes:
    """A link over "Annex" on page 1 goes to the named destination (annex), which the
    document's /Dests name tree maps to page 2."""
    return prepared_letter(
        b"<< /Type /Annot /Subtype /Link /Rect [70 684 400 712] /F 4 /Border [0 0 0] "
        b"/Dest (annex) >>",
        b"<< /Names [(annex) [8 0 R /Fit]] >>",
        catalog=b" /Names << /Dests 12 0 R >>",
        page=b" /Annots [11 0 R]",
        tree=None,
    )


def redirect_named_destination(writer: IncrementalPdfFileWriter) -> None:
    """A fresh /Dests tree maps (annex) to page 1 instead: the signed link now leads
    elsewhere, and NamesRule sees only destinations added."""
    tree = generic.DictionaryObject(
        {
            N("/Names"): generic.ArrayObject(
                [
                    generic.TextStringObject("annex"),
                    generic.ArrayObject([generic.IndirectObject(3, 0, writer), N("/Fit")]),
                ]
            )
        }
    )
    writer.root[N("/Names")] = generic.DictionaryObject({N("/Dests"): writer.add_object(tree)})
    writer.update_root()


def green_approval_letter() -> bytes:
    """The letter's condition is replaced by a green approval mark, as agencies print
    them: "APPROVED" in pure green (0 1 0 rg)."""
    return prepared_letter(
        second=b"0 1 0 rg BT /F1 18 Tf 72 690 Td (APPROVED by the board) Tj ET",
        tree=None,
    )

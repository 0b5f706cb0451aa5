"""Attacks on the rules that accept some changes after signing (changes.py, policy.py).

Each test signs a document, changes what a reader sees of it in a later incremental
update dressed up as one of the accepted changes (a comment, a highlight, a structure
tree, named destinations), and checks that the verifier does not call it ``valid``.
A case marked ``xfail(strict=True, raises=AssertionError)`` (see :func:`bypass`)
documents a bypass the rules still let through, with the reason in the mark: the day the
rule is fixed the case passes, strict xfail turns that into a failure, and the mark
must go. Renderings were checked with poppler (pdftoppm, pdftocairo), pdfium and MuPDF;
where only some renderers show the change, the reason says which.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import MDPPerm

from services.common.contract import Verdict
from services.signing.verification import Verifier
from testkit.pdfs import write_pdf
from tests.unit.signing.verification import realworld as rw
from tests.unit.signing.verification.helpers import ThrowawayPki, sign

Edit = Callable[[IncrementalPdfFileWriter], None]
N = generic.pdf_name


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


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


@pytest.fixture(scope="module")
def signed(pki: ThrowawayPki) -> bytes:
    return sign(letter(), pki)


def update(pdf: bytes, edit: Edit) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    edit(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _page(writer: IncrementalPdfFileWriter, index: int = 0) -> generic.IndirectObject:
    ref = writer.root["/Pages"]["/Kids"].raw_get(index)
    assert isinstance(ref, generic.IndirectObject)
    return ref


def _nums(*values: float) -> generic.ArrayObject:
    return generic.ArrayObject(generic.FloatObject(v) for v in values)


def _form(
    data: bytes, width: float, height: float, **extra: generic.PdfObject
) -> generic.StreamObject:
    entries: dict[generic.NameObject, generic.PdfObject] = {
        N("/Type"): N("/XObject"),
        N("/Subtype"): N("/Form"),
        N("/BBox"): _nums(0, 0, width, height),
    }
    entries.update({N("/" + k): v for k, v in extra.items()})
    return generic.StreamObject(generic.DictionaryObject(entries), stream_data=data)


def _helv() -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            N("/Type"): N("/Font"),
            N("/Subtype"): N("/Type1"),
            N("/BaseFont"): N("/Helvetica"),
        }
    )


def _multiply(**more: generic.PdfObject) -> generic.DictionaryObject:
    """Appearance resources with one Multiply graphics state /GS0 (and ``more``)."""
    res = generic.DictionaryObject(
        {
            N("/ExtGState"): generic.DictionaryObject(
                {N("/GS0"): generic.DictionaryObject({N("/BM"): N("/Multiply")})}
            ),
            N("/Font"): generic.DictionaryObject({N("/Helv"): _helv()}),
        }
    )
    res.update({N("/" + k): v for k, v in more.items()})
    return res


def _annot(
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
            N("/Rect"): _nums(*rect),
            N("/F"): generic.NumberObject(4),
            N("/Contents"): generic.TextStringObject("ok"),
            N("/P"): _page(writer),
        }
    )
    if subtype in ("/Highlight", "/Underline", "/Squiggly"):
        x1, y1, x2, y2 = rect
        annot[N("/QuadPoints")] = _nums(x1, y2, x2, y2, x1, y1, x2, y1)
    if appearance is not None:
        annot[N("/AP")] = generic.DictionaryObject({N("/N"): appearance})
    annot.update({N("/" + k): v for k, v in extra.items()})
    return writer.add_object(annot)


def _attach(writer: IncrementalPdfFileWriter, *annots: generic.IndirectObject) -> None:
    page = _page(writer).get_object()
    old = page.get("/Annots", generic.ArrayObject())
    page[N("/Annots")] = generic.ArrayObject([*old, *annots])
    writer.update_container(page)


def _struct_tree(writer: IncrementalPdfFileWriter, *kids: generic.PdfObject) -> None:
    """A new structure tree whose one paragraph element lists ``kids`` in its /K."""
    tree = generic.DictionaryObject({N("/Type"): N("/StructTreeRoot")})
    tree_ref = writer.add_object(tree)
    elem = generic.DictionaryObject(
        {
            N("/Type"): N("/StructElem"),
            N("/S"): N("/P"),
            N("/P"): tree_ref,
            N("/Pg"): _page(writer),
            N("/K"): generic.ArrayObject([generic.NumberObject(0), *kids]),
        }
    )
    tree[N("/K")] = generic.ArrayObject([writer.add_object(elem)])
    writer.root[N("/StructTreeRoot")] = tree_ref
    writer.update_root()


def _dests(writer: IncrementalPdfFileWriter, **extra: generic.PdfObject) -> None:
    """Named destinations added; the destination dictionary carries ``extra`` keys."""
    dest = generic.DictionaryObject({N("/D"): generic.ArrayObject([_page(writer), N("/Fit")])})
    dest.update({N("/" + k): v for k, v in extra.items()})
    tree = generic.DictionaryObject(
        {N("/Names"): generic.ArrayObject([generic.TextStringObject("muc1"), dest])}
    )
    names = generic.DictionaryObject({N("/Dests"): writer.add_object(tree)})
    writer.root[N("/Names")] = writer.add_object(names)
    writer.update_root()


def _verdict(verifier: Verifier, pdf: bytes) -> Verdict:
    return verifier.verify(pdf).verdict


def bypass(case_id: str, attack: object, why: str) -> object:
    """A case the verifier still calls valid: strict, and only an assertion may fail
    (an error while building the attack must not pass for a documented bypass)."""
    mark = pytest.mark.xfail(strict=True, raises=AssertionError, reason=f"bypass: {why}")
    return pytest.param(attack, id=case_id, marks=mark)


def test_the_letter_is_valid_once_signed_and_after_a_plain_comment(
    verifier: Verifier, signed: bytes
) -> None:
    """The baseline: the attacks below start from a valid document."""
    assert _verdict(verifier, signed) == Verdict.VALID
    assert _verdict(verifier, rw.add_comment(signed)) == Verdict.VALID


# ----------------------------------------------------------- structure tree attacks


def drop_clause_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page's indirect /Contents array, listed in a new structure element's /K, is
    rewritten without its second stream: the clause disappears from the page."""
    contents = _page(writer).get_object().raw_get("/Contents")
    assert isinstance(contents, generic.IndirectObject)
    _struct_tree(writer, contents)
    array = contents.get_object()
    del array[1]
    writer.update_container(array)


def replace_page_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page dictionary, listed in a structure element's /K, gains /S and /K keys
    (so it looks like a structure element) and new /Contents; the new stream hides in
    a named destination, whose fresh objects are explained without looking."""
    page_ref = _page(writer)
    page = page_ref.get_object()
    evil = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 720 Td (Pay 900 000 000 VND) Tj ET")
    )
    page[N("/Contents")] = evil
    page[N("/S")] = N("/Part")
    page[N("/K")] = generic.ArrayObject()
    writer.update_container(page)
    _struct_tree(writer, page_ref)
    _dests(writer, Stash=evil)


def drop_page_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page tree node gains /S and /K keys and loses its second page."""
    pages = writer.root["/Pages"]
    pages_ref = writer.root.raw_get("/Pages")
    del pages["/Kids"][1]
    pages[N("/Count")] = generic.NumberObject(1)
    pages[N("/S")] = N("/Document")
    pages[N("/K")] = generic.ArrayObject()
    writer.update_container(pages)
    _struct_tree(writer, pages_ref)


def swap_font_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page's indirect /Resources gain /S and /K and map /F1 to a symbol font:
    every word on the page turns to Greek letters."""
    res_ref = _page(writer).get_object().raw_get("/Resources")
    res = res_ref.get_object()
    res[N("/Font")] = generic.DictionaryObject(
        {
            N("/F1"): generic.DictionaryObject(
                {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Symbol")}
            )
        }
    )
    res[N("/S")] = N("/Span")
    res[N("/K")] = generic.ArrayObject()
    writer.update_container(res)
    _struct_tree(writer, _page(writer))


def modify_page_listed_in_structure(writer: IncrementalPdfFileWriter) -> None:
    """A structure element points at the page (in /K, not /Pg) and the page's content
    changes in the same revision, without the /S /K disguise."""
    page_ref = _page(writer)
    page = page_ref.get_object()
    page[N("/Contents")] = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 720 Td (Pay 900 000 000 VND) Tj ET")
    )
    writer.update_container(page)
    _struct_tree(writer, page_ref)


def structure_stream_reused_as_content(writer: IncrementalPdfFileWriter) -> None:
    """A new stream reachable from the structure tree (as an attribute object) is also
    appended to the page's /Contents."""
    evil = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 650 Td (VOID) Tj ET")
    )
    contents = _page(writer).get_object().raw_get("/Contents").get_object()
    contents.append(evil)
    writer.update_container(contents)
    _struct_tree(writer, generic.DictionaryObject({N("/A"): evil}))


def dests_value_shared_with_resources(writer: IncrementalPdfFileWriter) -> None:
    """A new font dictionary stashed in a named destination is also swapped into the
    page's (old, indirect) resources."""
    font = writer.add_object(
        generic.DictionaryObject(
            {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Symbol")}
        )
    )
    res = _page(writer).get_object()["/Resources"]
    res[N("/Font")] = generic.DictionaryObject({N("/F1"): font})
    writer.update_container(res)
    _dests(writer, Stash=font)


_OLD_ARRAY = "StructureTreeRule vouches for any updated old array reachable from /StructTreeRoot"
_S_AND_K = (
    "StructureTreeRule vouches for any updated old dictionary reachable from "
    "/StructTreeRoot once it carries /S and /K"
)
STRUCTURE_BYPASSES = [
    bypass("drop-content-stream-via-K", drop_clause_via_structure, _OLD_ARRAY),
    bypass(
        "page-disguised-as-struct-elem",
        replace_page_via_structure,
        _S_AND_K + "; the new stream is explained by NamesRule's fresh closure",
    ),
    bypass("pages-node-disguised-drops-page-2", drop_page_via_structure, _S_AND_K),
    bypass("resources-disguised-swap-font", swap_font_via_structure, _S_AND_K),
]


@pytest.mark.parametrize("attack", STRUCTURE_BYPASSES)
def test_structure_tree_vouching_for_old_page_objects(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert _verdict(verifier, update(signed, attack)) != Verdict.VALID


CAUGHT_STRUCTURE = {
    "page-in-K-modified": modify_page_listed_in_structure,
    "struct-stream-appended-to-contents": structure_stream_reused_as_content,
    "dests-value-shared-with-resources": dests_value_shared_with_resources,
}


@pytest.mark.parametrize("attack", CAUGHT_STRUCTURE.values(), ids=CAUGHT_STRUCTURE.keys())
def test_structure_and_names_cannot_carry_page_changes(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert _verdict(verifier, update(signed, attack)) != Verdict.VALID


# -------------------------------------------------------------- annotation attacks

LINE = (70.0, 714.0, 240.0, 740.0)  # over "Pay 100 000 VND"
DIGITS = (107.0, 714.0, 140.0, 740.0)  # over "100"


def _highlight(
    writer: IncrementalPdfFileWriter, data: bytes, **resources: generic.PdfObject
) -> None:
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    ap = writer.add_object(_form(data, w, h, Resources=_multiply(**resources)))
    _attach(writer, _annot(writer, "/Highlight", LINE, ap))


def black_highlight(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight in black: darkening to black hides the words under it."""
    _highlight(writer, b"/GS0 gs 0 0 0 rg 0 0 170 26 re f")


def highlight_drawing_words(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply "highlight" in the blank space after the amount whose stroked shapes
    spell VOID: shapes are enough to write words."""
    rect = (245.0, 714.0, 300.0, 740.0)
    void = (
        b"/GS0 gs 0 G 2 w 2 22 m 7 3 l 12 22 l S 16 3 10 19 re S 30 3 m 30 22 l S "
        b"34 3 m 34 22 l 40 22 l 45 12 l 40 3 l h S"
    )
    ap = writer.add_object(_form(void, 55, 26, Resources=_multiply()))
    _attach(writer, _annot(writer, "/Highlight", rect, ap))


def isolated_group_highlight(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight inside an isolated transparency group: Multiply blends with
    the group's transparent backdrop (so paints normally) and the group is composited
    with Normal: the white box hides the text and the new text shows."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    group = generic.DictionaryObject(
        {N("/S"): N("/Transparency"), N("/I"): generic.BooleanObject(True)}
    )
    nine = b"0 0 0 rg 38 4 3 18 re 38 19 10 3 re 38 11 10 3 re 45 4 3 18 re 38 4 10 3 re f"
    ap = writer.add_object(
        _form(
            b"/GS0 gs 1 1 1 rg 0 0 170 26 re f " + nine,
            w,
            h,
            Resources=_multiply(),
            Group=group,
        )
    )
    _attach(writer, _annot(writer, "/Highlight", LINE, ap))


def pattern_highlight(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight that fills its box with a tiling pattern whose cell draws
    text: no text operator in the appearance itself, words on the page."""
    cell = generic.StreamObject(
        generic.DictionaryObject(
            {
                N("/PatternType"): generic.NumberObject(1),
                N("/PaintType"): generic.NumberObject(1),
                N("/TilingType"): generic.NumberObject(1),
                N("/BBox"): _nums(0, 0, 170, 26),
                N("/XStep"): generic.NumberObject(170),
                N("/YStep"): generic.NumberObject(26),
                N("/Resources"): generic.DictionaryObject(
                    {N("/Font"): generic.DictionaryObject({N("/Helv"): _helv()})}
                ),
            }
        ),
        stream_data=b"0 g BT /Helv 18 Tf 2 7 Td (KHONG DUYET) Tj ET",
    )
    patterns = generic.DictionaryObject({N("/P0"): writer.add_object(cell)})
    _highlight(writer, b"/GS0 gs /Pattern cs /P0 scn 0 0 170 26 re f", Pattern=patterns)


def lexer_split_fill(writer: IncrementalPdfFileWriter) -> None:
    """The fill before the blend mode is selected is written ``0.f``: the checker's
    regular expression does not see an operator after a '.', a PDF lexer does."""
    _highlight(writer, b"1 1 1 rg 0 0 170 26 re 0.f /GS0 gs")


def note_patch_over_digits(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note of icon size whose appearance is a white patch with "900" on it,
    placed exactly over "100"."""
    w, h = DIGITS[2] - DIGITS[0], DIGITS[3] - DIGITS[1]
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): _helv()})}
    )
    ap = writer.add_object(
        _form(
            b"1 1 1 rg 0 0 33 26 re f 0 g BT /Helv 18 Tf 1 6 Td (900) Tj ET",
            w,
            h,
            Resources=resources,
        )
    )
    _attach(writer, _annot(writer, "/Text", DIGITS, ap))


def _free_text(writer: IncrementalPdfFileWriter, flags: generic.PdfObject) -> None:
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): _helv()})}
    )
    ap = writer.add_object(
        _form(
            b"1 1 1 rg 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            w,
            h,
            Resources=resources,
        )
    )
    _attach(writer, _annot(writer, "/FreeText", LINE, ap, F=flags))


def float_hidden_flag(writer: IncrementalPdfFileWriter) -> None:
    """A free-text overlay with /F 2.5: Python's int() reads Hidden, a viewer that
    wants an integer (poppler) ignores the flags and draws it."""
    _free_text(writer, generic.FloatObject(2.5))


def noview_but_print(writer: IncrementalPdfFileWriter) -> None:
    """A free-text overlay flagged NoView|Print: not on screen, but on paper."""
    _free_text(writer, generic.NumberObject(32 | 4))


def undeclared_graphics_state(writer: IncrementalPdfFileWriter) -> None:
    """The highlight selects /GS1, which its resources do not define: a viewer ignores
    the operator (Normal blend), the checker counts any 'gs' as the Multiply one."""
    _highlight(writer, b"/GS1 gs 1 1 1 rg 0 0 170 26 re f")


def gs_in_a_comment(writer: IncrementalPdfFileWriter) -> None:
    """The 'gs' the checker sees is inside a comment: the white-out paints normally."""
    _highlight(writer, b"% /GS0 gs\n1 1 1 rg 0 0 170 26 re f")


def gs_in_a_string(writer: IncrementalPdfFileWriter) -> None:
    """The 'gs' the checker sees is inside a string operand (which the viewer drops)."""
    _highlight(writer, b"(/GS0 gs) 1 1 1 rg 0 0 170 26 re f")


def direct_annotation(writer: IncrementalPdfFileWriter) -> None:
    """Next to a plain sticky note, a *direct* Square annotation dictionary in /Annots
    with an opaque white interior over the amount: the rules and the inventory only
    look at indirect entries, viewers draw direct ones too."""
    page = _page(writer).get_object()
    note = _annot(writer, "/Text", (500, 780, 520, 800))
    square = generic.DictionaryObject(
        {
            N("/Type"): N("/Annot"),
            N("/Subtype"): N("/Square"),
            N("/Rect"): _nums(*LINE),
            N("/F"): generic.NumberObject(4),
            N("/C"): _nums(1, 1, 1),
            N("/IC"): _nums(1, 1, 1),
        }
    )
    page[N("/Annots")] = generic.ArrayObject([*page["/Annots"], note, square])
    writer.update_container(page)


def widget_through_comment(writer: IncrementalPdfFileWriter) -> None:
    """A new widget (no form field) with a white-out appearance, listed in /Annots and
    also reachable from a new sticky note's private key: the note's fresh closure
    explains it, and both the rule and the inventory skip widgets."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): _helv()})}
    )
    ap = writer.add_object(
        _form(
            b"1 1 1 rg 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            w,
            h,
            Resources=resources,
        )
    )
    widget = _annot(writer, "/Widget", LINE, ap)
    note = _annot(writer, "/Text", (500, 780, 520, 800), None, Extra=widget)
    _attach(writer, note, widget)


def link_with_thick_white_border(writer: IncrementalPdfFileWriter) -> None:
    """A link without appearance whose /Border is 60 points wide and whose colour is
    white: the viewer draws the border itself, over the line of text."""
    _attach(
        writer,
        _annot(
            writer,
            "/Link",
            (60.0, 705.0, 260.0, 800.0),
            None,
            Border=_nums(0, 0, 60),
            C=_nums(1, 1, 1),
        ),
    )


def black_highlight_without_appearance(writer: IncrementalPdfFileWriter) -> None:
    """A highlight without appearance, coloured black: the viewer draws a black box."""
    _attach(writer, _annot(writer, "/Highlight", LINE, None, C=_nums(0, 0, 0)))


def signature_widget_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The (old) signature widget, listed in a structure element and disguised with /S
    and /K, moves over the amount with a new white-out appearance (the stream stashed
    in a named destination). The page is untouched, so the inventory never looks."""
    widget = _page(writer).get_object()["/Annots"].raw_get(0)
    w = widget.get_object()
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): _helv()})}
    )
    ap = writer.add_object(
        _form(
            b"1 1 1 rg 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            170,
            26,
            Resources=resources,
        )
    )
    w[N("/Rect")] = _nums(*LINE)
    w[N("/AP")] = generic.DictionaryObject({N("/N"): ap})
    w[N("/S")] = N("/Form")
    w[N("/K")] = generic.ArrayObject()
    writer.update_container(w)
    _struct_tree(writer, widget)
    _dests(writer, Stash=ap)


_LEXER = "_only_blended_shapes scans bytes with regular expressions, not PDF tokens"
ANNOTATION_BYPASSES = [
    bypass(
        "black-multiply-highlight-hides-text",
        black_highlight,
        "Multiply with black (or any dark colour) hides what is under it",
    ),
    bypass(
        "multiply-highlight-draws-words",
        highlight_drawing_words,
        "paths are allowed, and paths can spell words on blank paper",
    ),
    bypass(
        "isolated-group-undoes-multiply",
        isolated_group_highlight,
        "an isolated transparency group (/Group /I true) blends inside the group and "
        "composites Normal (MuPDF renders the white-out)",
    ),
    bypass(
        "pattern-fill-draws-text",
        pattern_highlight,
        "a pattern colour (/Pattern cs … scn) paints the pattern cell, whose text is not scanned",
    ),
    bypass(
        "lexer-differential-fill-before-gs",
        lexer_split_fill,
        _LEXER + ": '0.f' hides a fill from the operator pattern (poppler paints it)",
    ),
    bypass(
        "icon-sized-note-rewrites-digits",
        note_patch_over_digits,
        "any appearance of a /Text note up to 40x40 points is trusted: enough to "
        "cover and rewrite a number (and notes can be tiled)",
    ),
    bypass(
        "float-hidden-flag",
        float_hidden_flag,
        "/F 2.5 is Hidden to int(), not an integer to poppler, which draws the overlay",
    ),
    bypass(
        "noview-print-overlay",
        noview_but_print,
        "NoView without Hidden still prints (Print flag): the paper copy differs",
    ),
    bypass(
        "undeclared-gs-name",
        undeclared_graphics_state,
        "any 'gs' counts as the Multiply state, even a name the resources do not define",
    ),
    bypass("gs-inside-comment", gs_in_a_comment, _LEXER + ": a 'gs' in a % comment counts"),
    bypass("gs-inside-string", gs_in_a_string, _LEXER + ": a 'gs' in a string counts"),
    bypass(
        "black-highlight-without-appearance",
        black_highlight_without_appearance,
        "without /AP a mark is trusted, but the viewer draws it in its /C colour: black",
    ),
    bypass(
        "link-with-thick-white-border",
        link_with_thick_white_border,
        "without /AP a link is trusted, but the viewer draws its /Border in its /C colour "
        "(poppler: a wide white frame over the text)",
    ),
    bypass(
        "direct-annotation-dictionary",
        direct_annotation,
        "_annots keeps only indirect entries: a direct Square in /Annots is never seen",
    ),
    bypass(
        "widget-explained-by-comment-closure",
        widget_through_comment,
        "a note's fresh closure explains a new field-less widget that both the rule and "
        "the inventory skip (poppler draws it)",
    ),
]


@pytest.mark.parametrize("attack", ANNOTATION_BYPASSES)
def test_annotations_that_change_what_a_reader_sees(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert _verdict(verifier, update(signed, attack)) != Verdict.VALID


def link_with_javascript(writer: IncrementalPdfFileWriter) -> None:
    """A link (no appearance) over the amount whose action is JavaScript: one click and
    a script may rewrite fields, show hidden annotations, open other documents."""
    action = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    _attach(writer, _annot(writer, "/Link", LINE, None, A=action))


def link_with_launch(writer: IncrementalPdfFileWriter) -> None:
    """A link that launches a program."""
    action = generic.DictionaryObject(
        {N("/S"): N("/Launch"), N("/F"): generic.TextStringObject("cmd.exe")}
    )
    _attach(writer, _annot(writer, "/Link", LINE, None, A=action))


def text_note_with_page_action(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note with an additional-actions dictionary (page visible: run script)."""
    action = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    aa = generic.DictionaryObject({N("/PV"): action})
    _attach(writer, _annot(writer, "/Text", (500, 780, 520, 800), None, AA=aa))


_ACTIONS = "the annotation rules look at appearances only, never at /A or /AA actions"
ACTION_BYPASSES = [
    bypass("link-javascript", link_with_javascript, _ACTIONS),
    bypass("link-launch", link_with_launch, _ACTIONS),
    bypass("note-with-AA-javascript", text_note_with_page_action, _ACTIONS),
]


@pytest.mark.parametrize("attack", ACTION_BYPASSES)
def test_annotations_that_bring_active_content(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert _verdict(verifier, update(signed, attack)) != Verdict.VALID


def _uri(target: str) -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {N("/S"): N("/URI"), N("/URI"): generic.TextStringObject(target)}
    )


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="bypass: an old annotation edited without changing its subtype is explained, "
    "and only its appearance is judged, never its action",
)
def test_a_signed_link_cannot_be_redirected(verifier: Verifier, pki: ThrowawayPki) -> None:
    """The signed letter links to the agency's payment page; a later revision edits
    that (old) link to point elsewhere. Same subtype, no appearance: the annotation
    rule explains the edit and nothing looks at where the link now leads."""
    linked = update(
        letter(),
        lambda w: _attach(
            w, _annot(w, "/Link", LINE, None, A=_uri("https://dichvucong.gov.vn/thanh-toan"))
        ),
    )
    signed_link = sign(linked, pki)
    assert _verdict(verifier, signed_link) == Verdict.VALID

    def redirect(writer: IncrementalPdfFileWriter) -> None:
        page = _page(writer).get_object()
        annots = [a.get_object() for a in page["/Annots"]]
        link = next(a for a in annots if a["/Subtype"] == "/Link")
        link[N("/A")] = _uri("https://dichvucong-gov.example/thanh-toan")
        writer.update_container(link)
        writer.update_container(page)

    redirected = update(signed_link, redirect)
    assert _verdict(verifier, redirected) != Verdict.VALID


# ------------------------------------------------------- attacks that are caught


def big_note_with_states(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note over the body whose appearance is a dictionary of states, the
    selected one painting the text over."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    on = writer.add_object(_form(b"0 0 1 rg 2 2 16 16 re f", w, h))
    off = writer.add_object(
        _form(b"1 1 1 rg 0 0 170 26 re f", w, h, Resources=generic.DictionaryObject())
    )
    states = generic.DictionaryObject({N("/On"): on, N("/Off"): off})
    _attach(writer, _annot(writer, "/Text", LINE, states, AS=N("/Off")))


def highlight_with_evil_state(writer: IncrementalPdfFileWriter) -> None:
    """A highlight with a benign /On state and a white-out /Off state, /AS /Off."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    on = writer.add_object(_form(b"/GS0 gs 1 1 0 rg 0 0 170 26 re f", w, h, Resources=_multiply()))
    off = writer.add_object(_form(b"1 1 1 rg 0 0 170 26 re f", w, h, Resources=_multiply()))
    states = generic.DictionaryObject({N("/On"): on, N("/Off"): off})
    _attach(writer, _annot(writer, "/Highlight", LINE, states, AS=N("/Off")))


def highlight_drawing_a_form(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight that paints a white-out form XObject: 'Do' is refused."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    inner = writer.add_object(_form(b"1 1 1 rg 0 0 170 26 re f", w, h))
    xobjects = generic.DictionaryObject({N("/X0"): inner})
    ap = writer.add_object(_form(b"/GS0 gs /X0 Do", w, h, Resources=_multiply(XObject=xobjects)))
    _attach(writer, _annot(writer, "/Highlight", LINE, ap))


def highlight_inline_image(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight drawing an inline image (BI … ID … EI)."""
    _highlight(writer, b"/GS0 gs q 170 0 0 26 0 0 cm BI /W 1 /H 1 /CS /G /BPC 8 ID \x00 EI Q")


def highlight_array_blend(writer: IncrementalPdfFileWriter) -> None:
    """/BM given as an array whose first entry is Normal."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    res = _multiply()
    res["/ExtGState"][N("/GS0")] = generic.DictionaryObject(
        {N("/BM"): generic.ArrayObject([N("/Normal"), N("/Multiply")])}
    )
    ap = writer.add_object(_form(b"/GS0 gs 1 1 1 rg 0 0 170 26 re f", w, h, Resources=res))
    _attach(writer, _annot(writer, "/Highlight", LINE, ap))


def note_over_modified_content(writer: IncrementalPdfFileWriter) -> None:
    """A comment whose appearance is the page's old content stream, rewritten in the
    same revision."""
    content = _page(writer).get_object()["/Contents"].raw_get(0)
    stream = content.get_object()
    stream._data = b"BT /F1 18 Tf 72 720 Td (Pay 900 000 VND) Tj ET"
    stream._encoded_data = None
    writer.update_container(stream)
    _attach(writer, _annot(writer, "/Text", (500, 780, 520, 800), content))


def popup_pointing_at_modified_stream(writer: IncrementalPdfFileWriter) -> None:
    """A comment whose /Popup entry points at the page's old second content stream,
    rewritten in the same revision."""
    content = _page(writer).get_object()["/Contents"].raw_get(1)
    stream = content.get_object()
    stream._data = b"BT /F1 18 Tf 72 690 Td (whatever the board says) Tj ET"
    stream._encoded_data = None
    writer.update_container(stream)
    _attach(writer, _annot(writer, "/Text", (500, 780, 520, 800), None, Popup=content))


def old_object_moved_onto_page(writer: IncrementalPdfFileWriter) -> None:
    """The page's old resources dictionary listed as an 'annotation'."""
    res = _page(writer).get_object().raw_get("/Resources")
    _attach(writer, res)


def swap_annotation(writer: IncrementalPdfFileWriter) -> None:
    """The signature widget is removed from the page while a comment is added."""
    page = _page(writer).get_object()
    note = _annot(writer, "/Text", (500, 780, 520, 800))
    page[N("/Annots")] = generic.ArrayObject([note])
    writer.update_container(page)


def _with_comment(edit: Callable[[generic.DictionaryObject], None]) -> Edit:
    def attack(writer: IncrementalPdfFileWriter) -> None:
        _attach(writer, _annot(writer, "/Text", (500, 780, 520, 800)))
        page = _page(writer).get_object()
        edit(page)
        writer.update_container(page)

    return attack


def _rotate(page: generic.DictionaryObject) -> None:
    page[N("/Rotate")] = generic.NumberObject(180)


def _crop(page: generic.DictionaryObject) -> None:
    page[N("/CropBox")] = _nums(0, 0, 595, 700)


def _page_action(page: generic.DictionaryObject) -> None:
    action = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    page[N("/AA")] = generic.DictionaryObject({N("/O"): action})


def open_action_with_structure(writer: IncrementalPdfFileWriter) -> None:
    """/OpenAction added to the catalog in the revision that adds a structure tree."""
    writer.root[N("/OpenAction")] = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    _struct_tree(writer)


def javascript_next_to_dests(writer: IncrementalPdfFileWriter) -> None:
    """Named destinations plus a document-level script in the same name dictionary."""
    _dests(writer)
    names = writer.root["/Names"]
    script = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    tree = generic.DictionaryObject(
        {N("/Names"): generic.ArrayObject([generic.TextStringObject("a"), script])}
    )
    names[N("/JavaScript")] = writer.add_object(tree)


def annots_made_indirect_and_widget_edited(writer: IncrementalPdfFileWriter) -> None:
    """/Annots turned into an indirect array while the signature widget (old) gains a
    white-out appearance."""
    page = _page(writer).get_object()
    widget = page["/Annots"].raw_get(0)
    w = widget.get_object()
    w[N("/Rect")] = _nums(*LINE)
    w[N("/AP")] = generic.DictionaryObject(
        {N("/N"): writer.add_object(_form(b"1 1 1 rg 0 0 170 26 re f", 170, 26))}
    )
    writer.update_container(w)
    note = _annot(writer, "/Text", (500, 780, 520, 800))
    page[N("/Annots")] = writer.add_object(generic.ArrayObject([widget, note]))
    writer.update_container(page)


CAUGHT = {
    "big-note-with-appearance-states": big_note_with_states,
    "highlight-with-evil-off-state": highlight_with_evil_state,
    "highlight-painting-a-form-xobject": highlight_drawing_a_form,
    "highlight-inline-image": highlight_inline_image,
    "highlight-blend-array": highlight_array_blend,
    "note-appearance-is-modified-page-content": note_over_modified_content,
    "popup-key-to-modified-page-content": popup_pointing_at_modified_stream,
    "old-object-moved-into-annots": old_object_moved_onto_page,
    "widget-removed-comment-added": swap_annotation,
    "rotate-with-comment": _with_comment(_rotate),
    "cropbox-with-comment": _with_comment(_crop),
    "page-AA-with-comment": _with_comment(_page_action),
    "open-action-with-structure": open_action_with_structure,
    "javascript-next-to-dests": javascript_next_to_dests,
    "indirect-annots-and-widget-white-out": annots_made_indirect_and_widget_edited,
    "signature-widget-disguised-in-structure": signature_widget_via_structure,
}


def test_a_hidden_overlay_cannot_be_unhidden_later(verifier: Verifier, signed: bytes) -> None:
    """Revision 2 adds a hidden free-text overlay (allowed: nobody sees it); revision 3
    only clears its Hidden flag (the page is rewritten unchanged, so the edit is
    explained as an annotation edit, and judged again)."""
    hidden = update(signed, lambda w: _free_text(w, generic.NumberObject(2)))
    assert _verdict(verifier, hidden) == Verdict.VALID

    def unhide(writer: IncrementalPdfFileWriter) -> None:
        page = _page(writer).get_object()
        overlay = page["/Annots"].raw_get(-1)
        annot = overlay.get_object()
        annot[N("/F")] = generic.NumberObject(4)
        writer.update_container(annot)
        writer.update_container(page)

    assert _verdict(verifier, update(hidden, unhide)) != Verdict.VALID


@pytest.mark.parametrize("attack", CAUGHT.values(), ids=CAUGHT.keys())
def test_attacks_dressed_as_benign_changes_are_caught(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert _verdict(verifier, update(signed, attack)) != Verdict.VALID


# ------------------------------------------------------------ certified documents


@pytest.fixture(scope="module")
def certified(pki: ThrowawayPki) -> dict[MDPPerm, bytes]:
    return {p: rw.sign_with(letter(), pki, pki.signer, certify=p) for p in MDPPerm}


def test_certified_letters_are_valid(verifier: Verifier, certified: dict[MDPPerm, bytes]) -> None:
    assert all(_verdict(verifier, pdf) == Verdict.VALID for pdf in certified.values())


_P2 = "a certification at P=2 rates the structure tree FORM_FILLING, which it permits"
_P3 = "a certification at P=3 permits annotations, so the appearance bypasses pass too"
CERTIFIED_BYPASSES = [
    bypass("P2-structure-drops-clause", (MDPPerm.FILL_FORMS, drop_clause_via_structure), _P2),
    bypass("P2-page-disguised", (MDPPerm.FILL_FORMS, replace_page_via_structure), _P2),
    bypass("P3-black-highlight", (MDPPerm.ANNOTATE, black_highlight), _P3),
    bypass("P3-icon-sized-note", (MDPPerm.ANNOTATE, note_patch_over_digits), _P3),
]


@pytest.mark.parametrize("case", CERTIFIED_BYPASSES)
def test_certified_documents_with_bypasses(
    verifier: Verifier, certified: dict[MDPPerm, bytes], case: tuple[MDPPerm, Edit]
) -> None:
    permission, attack = case
    assert _verdict(verifier, update(certified[permission], attack)) != Verdict.VALID


CERTIFIED_CAUGHT = {
    "P1-structure-drops-clause": (MDPPerm.NO_CHANGES, drop_clause_via_structure),
    "P1-black-highlight": (MDPPerm.NO_CHANGES, black_highlight),
    "P2-black-highlight": (MDPPerm.FILL_FORMS, black_highlight),
    "P3-free-text": (MDPPerm.ANNOTATE, lambda w: _free_text(w, generic.NumberObject(4))),
}


@pytest.mark.parametrize(
    ("permission", "attack"), CERTIFIED_CAUGHT.values(), ids=CERTIFIED_CAUGHT.keys()
)
def test_certified_documents_refuse_what_they_do_not_permit(
    verifier: Verifier, certified: dict[MDPPerm, bytes], permission: MDPPerm, attack: Edit
) -> None:
    assert _verdict(verifier, update(certified[permission], attack)) != Verdict.VALID

"""Changes to what a reader sees dressed up as comments, highlights and links."""

from __future__ import annotations

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.unit.signing.verification.attack_pdfs import (
    DIGITS,
    LINE,
    N,
    attach,
    form,
    free_text,
    helv,
    highlight,
    multiply,
    new_annot,
    nums,
    page_ref,
)


def black_highlight(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight in black: darkening to black hides the words under it."""
    highlight(writer, b"/GS0 gs 0 0 0 rg 0 0 170 26 re f")


def highlight_drawing_words(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply "highlight" in the blank space after the amount whose stroked shapes
    spell VOID: shapes are enough to write words."""
    rect = (245.0, 714.0, 300.0, 740.0)
    void = (
        b"/GS0 gs 0 G 2 w 2 22 m 7 3 l 12 22 l S 16 3 10 19 re S 30 3 m 30 22 l S "
        b"34 3 m 34 22 l 40 22 l 45 12 l 40 3 l h S"
    )
    ap = writer.add_object(form(void, 55, 26, Resources=multiply()))
    attach(writer, new_annot(writer, "/Highlight", rect, ap))


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
        form(
            b"/GS0 gs 1 1 1 rg 0 0 170 26 re f " + nine,
            w,
            h,
            Resources=multiply(),
            Group=group,
        )
    )
    attach(writer, new_annot(writer, "/Highlight", LINE, ap))


def pattern_highlight(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight that fills its box with a tiling pattern whose cell draws
    text: no text operator in the appearance itself, words on the page."""
    cell = generic.StreamObject(
        generic.DictionaryObject(
            {
                N("/PatternType"): generic.NumberObject(1),
                N("/PaintType"): generic.NumberObject(1),
                N("/TilingType"): generic.NumberObject(1),
                N("/BBox"): nums(0, 0, 170, 26),
                N("/XStep"): generic.NumberObject(170),
                N("/YStep"): generic.NumberObject(26),
                N("/Resources"): generic.DictionaryObject(
                    {N("/Font"): generic.DictionaryObject({N("/Helv"): helv()})}
                ),
            }
        ),
        stream_data=b"0 g BT /Helv 18 Tf 2 7 Td (KHONG DUYET) Tj ET",
    )
    patterns = generic.DictionaryObject({N("/P0"): writer.add_object(cell)})
    highlight(writer, b"/GS0 gs /Pattern cs /P0 scn 0 0 170 26 re f", Pattern=patterns)


def lexer_split_fill(writer: IncrementalPdfFileWriter) -> None:
    """The fill before the blend mode is selected is written ``0.f``: the checker's
    regular expression does not see an operator after a '.', a PDF lexer does."""
    highlight(writer, b"1 1 1 rg 0 0 170 26 re 0.f /GS0 gs")


def note_patch_over_digits(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note of icon size whose appearance is a white patch with "900" on it,
    placed exactly over "100"."""
    w, h = DIGITS[2] - DIGITS[0], DIGITS[3] - DIGITS[1]
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): helv()})}
    )
    ap = writer.add_object(
        form(
            b"1 1 1 rg 0 0 33 26 re f 0 g BT /Helv 18 Tf 1 6 Td (900) Tj ET",
            w,
            h,
            Resources=resources,
        )
    )
    attach(writer, new_annot(writer, "/Text", DIGITS, ap))


def float_hidden_flag(writer: IncrementalPdfFileWriter) -> None:
    """A free-text overlay with /F 2.5: Python's int() reads Hidden, a viewer that
    wants an integer (poppler) ignores the flags and draws it."""
    free_text(writer, generic.FloatObject(2.5))


def noview_but_print(writer: IncrementalPdfFileWriter) -> None:
    """A free-text overlay flagged NoView|Print: not on screen, but on paper."""
    free_text(writer, generic.NumberObject(32 | 4))


def undeclared_graphics_state(writer: IncrementalPdfFileWriter) -> None:
    """The highlight selects /GS1, which its resources do not define: a viewer ignores
    the operator (Normal blend), the checker counts any 'gs' as the Multiply one."""
    highlight(writer, b"/GS1 gs 1 1 1 rg 0 0 170 26 re f")


def gs_in_a_comment(writer: IncrementalPdfFileWriter) -> None:
    """The 'gs' the checker sees is inside a comment: the white-out paints normally."""
    highlight(writer, b"% /GS0 gs\n1 1 1 rg 0 0 170 26 re f")


def gs_in_a_string(writer: IncrementalPdfFileWriter) -> None:
    """The 'gs' the checker sees is inside a string operand (which the viewer drops)."""
    highlight(writer, b"(/GS0 gs) 1 1 1 rg 0 0 170 26 re f")


def direct_annotation(writer: IncrementalPdfFileWriter) -> None:
    """Next to a plain sticky note, a *direct* Square annotation dictionary in /Annots
    with an opaque white interior over the amount: the rules and the inventory only
    look at indirect entries, viewers draw direct ones too."""
    page = page_ref(writer).get_object()
    note = new_annot(writer, "/Text", (500, 780, 520, 800))
    square = generic.DictionaryObject(
        {
            N("/Type"): N("/Annot"),
            N("/Subtype"): N("/Square"),
            N("/Rect"): nums(*LINE),
            N("/F"): generic.NumberObject(4),
            N("/C"): nums(1, 1, 1),
            N("/IC"): nums(1, 1, 1),
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
    widget = new_annot(writer, "/Widget", LINE, ap)
    note = new_annot(writer, "/Text", (500, 780, 520, 800), None, Extra=widget)
    attach(writer, note, widget)


def link_with_thick_white_border(writer: IncrementalPdfFileWriter) -> None:
    """A link without appearance whose /Border is 60 points wide and whose colour is
    white: the viewer draws the border itself, over the line of text."""
    attach(
        writer,
        new_annot(
            writer,
            "/Link",
            (60.0, 705.0, 260.0, 800.0),
            None,
            Border=nums(0, 0, 60),
            C=nums(1, 1, 1),
        ),
    )


def black_highlight_without_appearance(writer: IncrementalPdfFileWriter) -> None:
    """A highlight without appearance, coloured black: the viewer draws a black box."""
    attach(writer, new_annot(writer, "/Highlight", LINE, None, C=nums(0, 0, 0)))


def link_with_javascript(writer: IncrementalPdfFileWriter) -> None:
    """A link (no appearance) over the amount whose action is JavaScript: one click and
    a script may rewrite fields, show hidden annotations, open other documents."""
    action = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    attach(writer, new_annot(writer, "/Link", LINE, None, A=action))


def link_with_launch(writer: IncrementalPdfFileWriter) -> None:
    """A link that launches a program."""
    action = generic.DictionaryObject(
        {N("/S"): N("/Launch"), N("/F"): generic.TextStringObject("cmd.exe")}
    )
    attach(writer, new_annot(writer, "/Link", LINE, None, A=action))


def text_note_with_page_action(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note with an additional-actions dictionary (page visible: run script)."""
    action = generic.DictionaryObject(
        {N("/S"): N("/JavaScript"), N("/JS"): generic.TextStringObject("app.alert('x');")}
    )
    aa = generic.DictionaryObject({N("/PV"): action})
    attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800), None, AA=aa))

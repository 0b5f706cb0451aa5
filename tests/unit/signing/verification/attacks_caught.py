"""Attacks the change rules catch: kept so that they stay caught."""

from __future__ import annotations

from collections.abc import Callable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.unit.signing.verification import attacks_structure
from tests.unit.signing.verification.attack_pdfs import (
    LINE,
    Edit,
    N,
    attach,
    dests,
    form,
    highlight,
    multiply,
    new_annot,
    nums,
    page_ref,
    struct_tree,
)


def big_note_with_states(writer: IncrementalPdfFileWriter) -> None:
    """A sticky note over the body whose appearance is a dictionary of states, the
    selected one painting the text over."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    on = writer.add_object(form(b"0 0 1 rg 2 2 16 16 re f", w, h))
    off = writer.add_object(
        form(b"1 1 1 rg 0 0 170 26 re f", w, h, Resources=generic.DictionaryObject())
    )
    states = generic.DictionaryObject({N("/On"): on, N("/Off"): off})
    attach(writer, new_annot(writer, "/Text", LINE, states, AS=N("/Off")))


def highlight_with_evil_state(writer: IncrementalPdfFileWriter) -> None:
    """A highlight with a benign /On state and a white-out /Off state, /AS /Off."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    on = writer.add_object(form(b"/GS0 gs 1 1 0 rg 0 0 170 26 re f", w, h, Resources=multiply()))
    off = writer.add_object(form(b"1 1 1 rg 0 0 170 26 re f", w, h, Resources=multiply()))
    states = generic.DictionaryObject({N("/On"): on, N("/Off"): off})
    attach(writer, new_annot(writer, "/Highlight", LINE, states, AS=N("/Off")))


def highlight_drawing_a_form(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight that paints a white-out form XObject: 'Do' is refused."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    inner = writer.add_object(form(b"1 1 1 rg 0 0 170 26 re f", w, h))
    xobjects = generic.DictionaryObject({N("/X0"): inner})
    ap = writer.add_object(form(b"/GS0 gs /X0 Do", w, h, Resources=multiply(XObject=xobjects)))
    attach(writer, new_annot(writer, "/Highlight", LINE, ap))


def highlight_inline_image(writer: IncrementalPdfFileWriter) -> None:
    """A Multiply highlight drawing an inline image (BI … ID … EI)."""
    highlight(writer, b"/GS0 gs q 170 0 0 26 0 0 cm BI /W 1 /H 1 /CS /G /BPC 8 ID \x00 EI Q")


def highlight_array_blend(writer: IncrementalPdfFileWriter) -> None:
    """/BM given as an array whose first entry is Normal."""
    w, h = LINE[2] - LINE[0], LINE[3] - LINE[1]
    res = multiply()
    res["/ExtGState"][N("/GS0")] = generic.DictionaryObject(
        {N("/BM"): generic.ArrayObject([N("/Normal"), N("/Multiply")])}
    )
    ap = writer.add_object(form(b"/GS0 gs 1 1 1 rg 0 0 170 26 re f", w, h, Resources=res))
    attach(writer, new_annot(writer, "/Highlight", LINE, ap))


def note_over_modified_content(writer: IncrementalPdfFileWriter) -> None:
    """A comment whose appearance is the page's old content stream, rewritten in the
    same revision."""
    content = page_ref(writer).get_object()["/Contents"].raw_get(0)
    stream = content.get_object()
    stream._data = b"BT /F1 18 Tf 72 720 Td (Pay 900 000 VND) Tj ET"
    stream._encoded_data = None
    writer.update_container(stream)
    attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800), content))


def popup_pointing_at_modified_stream(writer: IncrementalPdfFileWriter) -> None:
    """A comment whose /Popup entry points at the page's old second content stream,
    rewritten in the same revision."""
    content = page_ref(writer).get_object()["/Contents"].raw_get(1)
    stream = content.get_object()
    stream._data = b"BT /F1 18 Tf 72 690 Td (whatever the board says) Tj ET"
    stream._encoded_data = None
    writer.update_container(stream)
    attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800), None, Popup=content))


def old_object_moved_onto_page(writer: IncrementalPdfFileWriter) -> None:
    """The page's old resources dictionary listed as an 'annotation'."""
    res = page_ref(writer).get_object().raw_get("/Resources")
    attach(writer, res)


def swap_annotation(writer: IncrementalPdfFileWriter) -> None:
    """The signature widget is removed from the page while a comment is added."""
    page = page_ref(writer).get_object()
    note = new_annot(writer, "/Text", (500, 780, 520, 800))
    page[N("/Annots")] = generic.ArrayObject([note])
    writer.update_container(page)


def with_comment(edit: Callable[[generic.DictionaryObject], None]) -> Edit:
    def attack(writer: IncrementalPdfFileWriter) -> None:
        attach(writer, new_annot(writer, "/Text", (500, 780, 520, 800)))
        page = page_ref(writer).get_object()
        edit(page)
        writer.update_container(page)

    return attack


def _rotate(page: generic.DictionaryObject) -> None:
    page[N("/Rotate")] = generic.NumberObject(180)


def _crop(page: generic.DictionaryObject) -> None:
    page[N("/CropBox")] = nums(0, 0, 595, 700)


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
    struct_tree(writer)


def javascript_next_to_dests(writer: IncrementalPdfFileWriter) -> None:
    """Named destinations plus a document-level script in the same name dictionary."""
    dests(writer)
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
    page = page_ref(writer).get_object()
    widget = page["/Annots"].raw_get(0)
    w = widget.get_object()
    w[N("/Rect")] = nums(*LINE)
    w[N("/AP")] = generic.DictionaryObject(
        {N("/N"): writer.add_object(form(b"1 1 1 rg 0 0 170 26 re f", 170, 26))}
    )
    writer.update_container(w)
    note = new_annot(writer, "/Text", (500, 780, 520, 800))
    page[N("/Annots")] = writer.add_object(generic.ArrayObject([widget, note]))
    writer.update_container(page)


#: Attacks dressed as benign changes that the verifier refuses.
CAUGHT: dict[str, Edit] = {
    "big-note-with-appearance-states": big_note_with_states,
    "highlight-with-evil-off-state": highlight_with_evil_state,
    "highlight-painting-a-form-xobject": highlight_drawing_a_form,
    "highlight-inline-image": highlight_inline_image,
    "highlight-blend-array": highlight_array_blend,
    "note-appearance-is-modified-page-content": note_over_modified_content,
    "popup-key-to-modified-page-content": popup_pointing_at_modified_stream,
    "old-object-moved-into-annots": old_object_moved_onto_page,
    "widget-removed-comment-added": swap_annotation,
    "rotate-with-comment": with_comment(_rotate),
    "cropbox-with-comment": with_comment(_crop),
    "page-AA-with-comment": with_comment(_page_action),
    "open-action-with-structure": attacks_structure.open_action_with_structure,
    "javascript-next-to-dests": attacks_structure.javascript_next_to_dests,
    "indirect-annots-and-widget-white-out": annots_made_indirect_and_widget_edited,
    "signature-widget-disguised-in-structure": attacks_structure.signature_widget_via_structure,
}

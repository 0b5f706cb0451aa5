"""Changes to the page dressed up as a structure tree or named destinations."""

from __future__ import annotations

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.unit.signing.verification.attack_pdfs import (
    LINE,
    N,
    dests,
    form,
    helv,
    nums,
    page_ref,
    struct_tree,
)


def drop_clause_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page's indirect /Contents array, listed in a new structure element's /K, is
    rewritten without its second stream: the clause disappears from the page."""
    contents = page_ref(writer).get_object().raw_get("/Contents")
    assert isinstance(contents, generic.IndirectObject)
    struct_tree(writer, contents)
    array = contents.get_object()
    del array[1]
    writer.update_container(array)


def replace_page_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page dictionary, listed in a structure element's /K, gains /S and /K keys
    (so it looks like a structure element) and new /Contents; the new stream hides in
    a named destination, whose fresh objects are explained without looking."""
    ref = page_ref(writer)
    page = ref.get_object()
    evil = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 720 Td (Pay 900 000 000 VND) Tj ET")
    )
    page[N("/Contents")] = evil
    page[N("/S")] = N("/Part")
    page[N("/K")] = generic.ArrayObject()
    writer.update_container(page)
    struct_tree(writer, ref)
    dests(writer, Stash=evil)


def drop_page_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page tree node gains /S and /K keys and loses its second page."""
    pages = writer.root["/Pages"]
    pages_ref = writer.root.raw_get("/Pages")
    del pages["/Kids"][1]
    pages[N("/Count")] = generic.NumberObject(1)
    pages[N("/S")] = N("/Document")
    pages[N("/K")] = generic.ArrayObject()
    writer.update_container(pages)
    struct_tree(writer, pages_ref)


def swap_font_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The page's indirect /Resources gain /S and /K and map /F1 to a symbol font:
    every word on the page turns to Greek letters."""
    res_ref = page_ref(writer).get_object().raw_get("/Resources")
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
    struct_tree(writer, page_ref(writer))


def modify_page_listed_in_structure(writer: IncrementalPdfFileWriter) -> None:
    """A structure element points at the page (in /K, not /Pg) and the page's content
    changes in the same revision, without the /S /K disguise."""
    ref = page_ref(writer)
    page = ref.get_object()
    page[N("/Contents")] = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 720 Td (Pay 900 000 000 VND) Tj ET")
    )
    writer.update_container(page)
    struct_tree(writer, ref)


def structure_stream_reused_as_content(writer: IncrementalPdfFileWriter) -> None:
    """A new stream reachable from the structure tree (as an attribute object) is also
    appended to the page's /Contents."""
    evil = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 650 Td (VOID) Tj ET")
    )
    contents = page_ref(writer).get_object().raw_get("/Contents").get_object()
    contents.append(evil)
    writer.update_container(contents)
    struct_tree(writer, generic.DictionaryObject({N("/A"): evil}))


def dests_value_shared_with_resources(writer: IncrementalPdfFileWriter) -> None:
    """A new font dictionary stashed in a named destination is also swapped into the
    page's (old, indirect) resources."""
    font = writer.add_object(
        generic.DictionaryObject(
            {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Symbol")}
        )
    )
    res = page_ref(writer).get_object()["/Resources"]
    res[N("/Font")] = generic.DictionaryObject({N("/F1"): font})
    writer.update_container(res)
    dests(writer, Stash=font)


def signature_widget_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """The (old) signature widget, listed in a structure element and disguised with /S
    and /K, moves over the amount with a new white-out appearance (the stream stashed
    in a named destination). The page is untouched, so the inventory never looks."""
    widget = page_ref(writer).get_object()["/Annots"].raw_get(0)
    w = widget.get_object()
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): helv()})}
    )
    ap = writer.add_object(
        form(
            b"1 1 1 rg 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            170,
            26,
            Resources=resources,
        )
    )
    w[N("/Rect")] = nums(*LINE)
    w[N("/AP")] = generic.DictionaryObject({N("/N"): ap})
    w[N("/S")] = N("/Form")
    w[N("/K")] = generic.ArrayObject()
    writer.update_container(w)
    struct_tree(writer, widget)
    dests(writer, Stash=ap)


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


def link_turned_overlay_via_structure(writer: IncrementalPdfFileWriter) -> None:
    """An (old) link annotation signed with the document, listed in a structure element
    and disguised with /S and /K, becomes a free-text overlay with a white-out
    appearance (stashed in a named destination). The page dictionary is untouched, so
    neither the annotation rule nor the inventory looks at the page's annotations."""
    page = page_ref(writer).get_object()
    link = next(a for a in page["/Annots"] if a.get_object()["/Subtype"] == "/Link")
    annot = link.get_object()
    resources = generic.DictionaryObject(
        {N("/Font"): generic.DictionaryObject({N("/Helv"): helv()})}
    )
    ap = writer.add_object(
        form(
            b"1 1 1 rg 0 0 170 26 re f 0 g BT /Helv 18 Tf 2 7 Td (Pay 900 000 VND) Tj ET",
            170,
            26,
            Resources=resources,
        )
    )
    annot[N("/Subtype")] = N("/FreeText")
    annot[N("/AP")] = generic.DictionaryObject({N("/N"): ap})
    annot[N("/S")] = N("/Link")
    annot[N("/K")] = generic.ArrayObject()
    writer.update_container(annot)
    struct_tree(writer, link)
    dests(writer, Stash=ap)

"""Attacks on the rules that accept some changes after signing (changes.py, policy.py).

Each test signs a document, changes what a reader sees of it in a later incremental
update dressed up as one of the accepted changes (a comment, a highlight, a structure
tree, named destinations), and checks that the verifier does not call it ``valid``.
The cases built with :func:`fixed` are the attacks a review found getting through an
earlier version of the rules, each with the reason it got through; they are refused
now. Renderings were checked with poppler (pdftoppm, pdftocairo), pdfium and MuPDF;
where only some renderers show the change, the reason says which.
"""

from __future__ import annotations

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import MDPPerm

from services.common.contract import Verdict
from services.signing.verification import Verifier
from tests.unit.signing.verification import attacks_annotations as an
from tests.unit.signing.verification import attacks_caught as ca
from tests.unit.signing.verification import attacks_structure as st
from tests.unit.signing.verification import realworld as rw
from tests.unit.signing.verification.attack_pdfs import (
    LINE,
    Edit,
    N,
    attach,
    fixed,
    free_text,
    letter,
    new_annot,
    page_ref,
    update,
    uri,
    verdict_of,
)
from tests.unit.signing.verification.helpers import ThrowawayPki, sign

pytestmark = pytest.mark.usefixtures("quiet")


def test_the_letter_is_valid_once_signed_and_after_a_plain_comment(
    verifier: Verifier, signed: bytes
) -> None:
    """The baseline: the attacks below start from a valid document."""
    assert verdict_of(verifier, signed) == Verdict.VALID
    assert verdict_of(verifier, rw.add_comment(signed)) == Verdict.VALID


_OLD_ARRAY = "StructureTreeRule vouches for any updated old array reachable from /StructTreeRoot"
_S_AND_K = (
    "StructureTreeRule vouches for any updated old dictionary reachable from "
    "/StructTreeRoot once it carries /S and /K"
)

STRUCTURE_BYPASSES = [
    fixed("drop-content-stream-via-K", st.drop_clause_via_structure, _OLD_ARRAY),
    fixed(
        "page-disguised-as-struct-elem",
        st.replace_page_via_structure,
        _S_AND_K + "; the new stream is explained by NamesRule's fresh closure",
    ),
    fixed("pages-node-disguised-drops-page-2", st.drop_page_via_structure, _S_AND_K),
    fixed("resources-disguised-swap-font", st.swap_font_via_structure, _S_AND_K),
]


@pytest.mark.parametrize("attack", STRUCTURE_BYPASSES)
def test_structure_tree_vouching_for_old_page_objects(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


CAUGHT_STRUCTURE = {
    "page-in-K-modified": st.modify_page_listed_in_structure,
    "struct-stream-appended-to-contents": st.structure_stream_reused_as_content,
    "dests-value-shared-with-resources": st.dests_value_shared_with_resources,
}


@pytest.mark.parametrize("attack", CAUGHT_STRUCTURE.values(), ids=CAUGHT_STRUCTURE.keys())
def test_structure_and_names_cannot_carry_page_changes(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


_LEXER = "_only_blended_shapes scans bytes with regular expressions, not PDF tokens"
ANNOTATION_BYPASSES = [
    fixed(
        "black-multiply-highlight-hides-text",
        an.black_highlight,
        "Multiply with black (or any dark colour) hides what is under it",
    ),
    fixed(
        "multiply-highlight-draws-words",
        an.highlight_drawing_words,
        "paths are allowed, and paths can spell words on blank paper",
    ),
    fixed(
        "isolated-group-undoes-multiply",
        an.isolated_group_highlight,
        "an isolated transparency group (/Group /I true) blends inside the group and "
        "composites Normal (MuPDF renders the white-out)",
    ),
    fixed(
        "pattern-fill-draws-text",
        an.pattern_highlight,
        "a pattern colour (/Pattern cs … scn) paints the pattern cell, whose text is not scanned",
    ),
    fixed(
        "lexer-differential-fill-before-gs",
        an.lexer_split_fill,
        _LEXER + ": '0.f' hides a fill from the operator pattern (poppler paints it)",
    ),
    fixed(
        "icon-sized-note-rewrites-digits",
        an.note_patch_over_digits,
        "any appearance of a /Text note up to 40x40 points is trusted: enough to "
        "cover and rewrite a number (and notes can be tiled)",
    ),
    fixed(
        "float-hidden-flag",
        an.float_hidden_flag,
        "/F 2.5 is Hidden to int(), not an integer to poppler, which draws the overlay",
    ),
    fixed(
        "noview-print-overlay",
        an.noview_but_print,
        "NoView without Hidden still prints (Print flag): the paper copy differs",
    ),
    fixed(
        "undeclared-gs-name",
        an.undeclared_graphics_state,
        "any 'gs' counts as the Multiply state, even a name the resources do not define",
    ),
    fixed("gs-inside-comment", an.gs_in_a_comment, _LEXER + ": a 'gs' in a % comment counts"),
    fixed("gs-inside-string", an.gs_in_a_string, _LEXER + ": a 'gs' in a string counts"),
    fixed(
        "black-highlight-without-appearance",
        an.black_highlight_without_appearance,
        "without /AP a mark is trusted, but the viewer draws it in its /C colour: black",
    ),
    fixed(
        "link-with-thick-white-border",
        an.link_with_thick_white_border,
        "without /AP a link is trusted, but the viewer draws its /Border in its /C colour "
        "(poppler: a wide white frame over the text)",
    ),
    fixed(
        "direct-annotation-dictionary",
        an.direct_annotation,
        "_annots keeps only indirect entries: a direct Square in /Annots is never seen",
    ),
    fixed(
        "widget-explained-by-comment-closure",
        an.widget_through_comment,
        "a note's fresh closure explains a new field-less widget that both the rule and "
        "the inventory skip (poppler draws it)",
    ),
]


@pytest.mark.parametrize("attack", ANNOTATION_BYPASSES)
def test_annotations_that_change_what_a_reader_sees(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


_ACTIONS = "the annotation rules look at appearances only, never at /A or /AA actions"
ACTION_BYPASSES = [
    fixed("link-javascript", an.link_with_javascript, _ACTIONS),
    fixed("link-launch", an.link_with_launch, _ACTIONS),
    fixed("note-with-AA-javascript", an.text_note_with_page_action, _ACTIONS),
]


@pytest.mark.parametrize("attack", ACTION_BYPASSES)
def test_annotations_that_bring_active_content(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


@pytest.fixture(scope="module")
def signed_link(pki: ThrowawayPki) -> bytes:
    """The letter with a link to the agency's payment page over the amount, signed."""
    linked = update(
        letter(),
        lambda w: attach(
            w, new_annot(w, "/Link", LINE, None, A=uri("https://dichvucong.gov.vn/thanh-toan"))
        ),
    )
    return sign(linked, pki)


def test_the_signed_link_letter_is_valid(verifier: Verifier, signed_link: bytes) -> None:
    assert verdict_of(verifier, signed_link) == Verdict.VALID


# Got through an earlier version: the structure rule vouched for the old link once it
# carried /S and /K, and with the page dictionary untouched nothing looked at it.
def test_a_signed_link_cannot_become_an_overlay(verifier: Verifier, signed_link: bytes) -> None:
    pdf = update(signed_link, st.link_turned_overlay_via_structure)
    assert verdict_of(verifier, pdf) != Verdict.VALID


# Got through an earlier version: an edited annotation was judged by its appearance
# only, never by its action.
def test_a_signed_link_cannot_be_redirected(verifier: Verifier, signed_link: bytes) -> None:
    """A later revision edits the signed link to point elsewhere. Same subtype, no
    appearance: the annotation rule explains the edit and nothing looks at where the
    link now leads."""

    def redirect(writer: IncrementalPdfFileWriter) -> None:
        page = page_ref(writer).get_object()
        annots = [a.get_object() for a in page["/Annots"]]
        link = next(a for a in annots if a["/Subtype"] == "/Link")
        link[N("/A")] = uri("https://dichvucong-gov.example/thanh-toan")
        writer.update_container(link)
        writer.update_container(page)

    redirected = update(signed_link, redirect)
    assert verdict_of(verifier, redirected) != Verdict.VALID


# ------------------------------------------------------- attacks that are caught


def test_a_hidden_overlay_cannot_be_unhidden_later(verifier: Verifier, signed: bytes) -> None:
    """Revision 2 adds a hidden free-text overlay (allowed: nobody sees it); revision 3
    only clears its Hidden flag (the page is rewritten unchanged, so the edit is
    explained as an annotation edit, and judged again)."""
    hidden = update(signed, lambda w: free_text(w, generic.NumberObject(2)))
    assert verdict_of(verifier, hidden) == Verdict.VALID

    def unhide(writer: IncrementalPdfFileWriter) -> None:
        page = page_ref(writer).get_object()
        overlay = page["/Annots"].raw_get(-1)
        annot = overlay.get_object()
        annot[N("/F")] = generic.NumberObject(4)
        writer.update_container(annot)
        writer.update_container(page)

    assert verdict_of(verifier, update(hidden, unhide)) != Verdict.VALID


@pytest.mark.parametrize("attack", ca.CAUGHT.values(), ids=ca.CAUGHT.keys())
def test_attacks_dressed_as_benign_changes_are_caught(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


# ------------------------------------------------------------ certified documents


@pytest.fixture(scope="module")
def certified(pki: ThrowawayPki) -> dict[MDPPerm, bytes]:
    return {p: rw.sign_with(letter(), pki, pki.signer, certify=p) for p in MDPPerm}


def test_certified_letters_are_valid(verifier: Verifier, certified: dict[MDPPerm, bytes]) -> None:
    assert all(verdict_of(verifier, pdf) == Verdict.VALID for pdf in certified.values())


_P2 = "a certification at P=2 rates the structure tree FORM_FILLING, which it permits"
_P3 = "a certification at P=3 permits annotations, so the appearance bypasses pass too"
CERTIFIED_BYPASSES = [
    fixed("P2-structure-drops-clause", (MDPPerm.FILL_FORMS, st.drop_clause_via_structure), _P2),
    fixed("P2-page-disguised", (MDPPerm.FILL_FORMS, st.replace_page_via_structure), _P2),
    fixed("P3-black-highlight", (MDPPerm.ANNOTATE, an.black_highlight), _P3),
    fixed("P3-icon-sized-note", (MDPPerm.ANNOTATE, an.note_patch_over_digits), _P3),
]


@pytest.mark.parametrize("case", CERTIFIED_BYPASSES)
def test_certified_documents_with_bypasses(
    verifier: Verifier, certified: dict[MDPPerm, bytes], case: tuple[MDPPerm, Edit]
) -> None:
    permission, attack = case
    assert verdict_of(verifier, update(certified[permission], attack)) != Verdict.VALID


CERTIFIED_CAUGHT = {
    "P1-structure-drops-clause": (MDPPerm.NO_CHANGES, st.drop_clause_via_structure),
    "P1-black-highlight": (MDPPerm.NO_CHANGES, an.black_highlight),
    "P2-black-highlight": (MDPPerm.FILL_FORMS, an.black_highlight),
    "P3-free-text": (MDPPerm.ANNOTATE, lambda w: free_text(w, generic.NumberObject(4))),
}


@pytest.mark.parametrize(
    ("permission", "attack"), CERTIFIED_CAUGHT.values(), ids=CERTIFIED_CAUGHT.keys()
)
def test_certified_documents_refuse_what_they_do_not_permit(
    verifier: Verifier, certified: dict[MDPPerm, bytes], permission: MDPPerm, attack: Edit
) -> None:
    assert verdict_of(verifier, update(certified[permission], attack)) != Verdict.VALID

"""A second review of the rules that accept some changes after signing.

Same method as test_change_attacks.py: sign a document, change what a reader sees of it
(or what it does) in a later incremental update dressed up as an accepted change, and
check that the verifier does not call it ``valid``. Cases built with ``fixed`` got through
an earlier version of the rules; the reason says why, and what poppler (pdftoppm -r 50)
showed. They are refused now. Builders
are in attacks2_marks.py (annotations, revisions) and attacks2_shared.py (documents
the attacker prepares before they are signed, as the "shadow" attacker does).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pyhanko.sign.fields import MDPPerm

from services.common.contract import Verdict
from services.signing.verification import Verifier
from tests.unit.signing.verification import attacks2_marks as mk
from tests.unit.signing.verification import attacks2_shared as sh
from tests.unit.signing.verification import realworld as rw
from tests.unit.signing.verification.attack_pdfs import Edit, fixed, letter, update, verdict_of
from tests.unit.signing.verification.helpers import ThrowawayPki, sign

pytestmark = pytest.mark.usefixtures("quiet")

# ------------------------------------------------------------ appearance checks

_ARITY = (
    "marks._only_light_blended_fills reads a colour from all the operands before g/rg/k "
    "(4 operands = CMYK white, 3 before g = light RGB); a reader uses the last 1/3/4 "
    "(poppler: 'Too many args', top of the stack): black box over the amount"
)
_TRANSFER = (
    "a declared Multiply graphics state is checked for /BM and /SMask only; its /TR "
    "(or /TR2) transfer function maps the light fill to black (poppler: black box)"
)
_ICON = (
    "a sticky note's icon may draw any shape in any colour within 40x40 points: a "
    "white patch and digits drawn as rectangles turn 'Pay 100 000' into 'Pay 900 000'"
)
_TILES = (
    "each note is judged alone: icon-sized white squares side by side erase the whole "
    "second sentence (poppler shows an empty line)"
)

APPEARANCE_BYPASSES = [
    fixed("highlight-rg-with-4-operands", mk.highlight_with_extra_colour_operands, _ARITY),
    fixed("highlight-g-with-3-operands", mk.highlight_with_gray_from_rgb_operands, _ARITY),
    fixed("highlight-gs-transfer-TR", mk.highlight_with_transfer_function, _TRANSFER),
    fixed("highlight-gs-transfer-TR2", mk.highlight_with_transfer_function_2, _TRANSFER),
    fixed("note-draws-digits-with-shapes", mk.note_drawing_digits_with_paths, _ICON),
    fixed("notes-tile-over-a-clause", mk.notes_tiling_a_clause, _TILES),
]


@pytest.mark.parametrize("attack", APPEARANCE_BYPASSES)
def test_annotation_appearances_that_change_what_a_reader_sees(
    verifier: Verifier, signed: bytes, attack: Edit
) -> None:
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


_SAME_COLOUR = (
    "marks._lightness judges a highlight's colour by its luminance; pure green (0.72) "
    "passes, and multiplied over text whose green channel is full, text and background "
    "both come out (0, 1, 0) (poppler: a plain green bar)"
)


@pytest.mark.parametrize(
    "attack",
    [
        fixed("own-appearance", mk.green_highlight_over_green_text, _SAME_COLOUR),
        fixed("viewer-drawn", mk.green_viewer_highlight_over_green_text, _SAME_COLOUR),
    ],
)
def test_a_light_highlight_that_matches_the_text_colour(
    verifier: Verifier, pki: ThrowawayPki, attack: Edit
) -> None:
    """The signed letter carries a green "APPROVED by the board" mark."""
    signed = sign(sh.green_approval_letter(), pki)
    assert verdict_of(verifier, signed) == Verdict.VALID
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


# ------------------------------------------- documents prepared by the attacker

_SHARED = (
    "StructureTreeRule vouches for an updated old object that was structure-shaped in "
    "the signed tree, without asking what else uses it; the signed document shares "
)
PREPARED_BYPASSES = [
    fixed(
        "struct-K-shares-page-contents-array",
        (sh.shared_array_letter, sh.drop_clause_from_shared_array),
        _SHARED + "page 1's /Contents array with a /K: the clause's stream is dropped",
    ),
    fixed(
        "struct-K-shares-OCProperties-OFF-array",
        (sh.optional_letter, sh.switch_clause_off),
        _SHARED + "the default /OFF array of /OCProperties: the clause is switched off",
    ),
    fixed(
        "struct-K-shares-page-Annots-array",
        (sh.shared_annots_letter, sh.put_overlay_on_page),
        _SHARED + "page 1's indirect /Annots: a free-text overlay that was in the file, "
        "on no page, is appended; the page dictionary does not change, so neither the "
        "annotation rule nor the inventory looks at the page (poppler: 'Pay 900 000')",
    ),
    fixed(
        "struct-K-shares-font-Differences-array",
        (sh.shared_encoding_letter, sh.one_becomes_nine),
        _SHARED + "the font's /Differences array: code '1' is mapped to the glyph 'nine', "
        "and with no content stream changed poppler shows 'Pay 900 000 VND'",
    ),
    fixed(
        "struct-K-shares-JavaScript-name-tree-node",
        (sh.shared_javascript_letter, sh.register_javascript),
        _SHARED + "the (empty) node of the document-level /JavaScript name tree, shaped "
        "like a tree node: a script that was in the file, used by nothing, now runs on "
        "opening (NamesRule compares /Names by reference, so the node is not its concern)",
    ),
]

Prepared = tuple[Callable[[], bytes], Edit]


@pytest.mark.parametrize("case", PREPARED_BYPASSES)
def test_prepared_documents_changed_through_the_structure_tree(
    verifier: Verifier, pki: ThrowawayPki, case: Prepared
) -> None:
    prepare, attack = case
    signed = sign(prepare(), pki)
    assert verdict_of(verifier, signed) == Verdict.VALID
    assert verdict_of(verifier, update(signed, attack)) != Verdict.VALID


# Got through an earlier version: NamesRule exempts /Dests from comparison and vouches for a
# fresh tree, without checking that the names the signed tree defined keep their destinations
# (pdfinfo -dests: 'annex' moves from page 2 to page 1)
def test_a_signed_link_redirected_through_its_named_destination(
    verifier: Verifier, pki: ThrowawayPki
) -> None:
    """The signed link goes to (annex), page 2; a fresh /Dests tree maps (annex) to
    page 1. The link is not touched."""
    signed = sign(sh.linked_letter(), pki)
    assert verdict_of(verifier, signed) == Verdict.VALID
    assert verdict_of(verifier, update(signed, sh.redirect_named_destination)) != Verdict.VALID


# -------------------------------------------------------- attacks that are caught


def test_a_dangling_reference_filled_later_is_caught(verifier: Verifier, pki: ThrowawayPki) -> None:
    """The signed page draws 40 0 R, which the signed document does not define; a later
    revision defines it, alone or inside a note's appearance closure. pyHanko's strict
    reading of the signed revision fails, and the verdict is not valid."""
    signed = sign(sh.dangling_letter(), pki)
    assert verdict_of(verifier, signed) == Verdict.VALID
    assert verdict_of(verifier, update(signed, sh.fill_dangling_through_note)) != Verdict.VALID
    assert verdict_of(verifier, update(signed, sh.fill_dangling_alone)) != Verdict.VALID


def test_freeing_a_signed_object_is_caught(verifier: Verifier, signed: bytes) -> None:
    """An xref section that only marks the clause's content stream free (deleted)."""
    assert verdict_of(verifier, mk.free_object(signed, 5)) != Verdict.VALID


def test_a_signed_object_number_reused_with_a_new_generation_is_caught(
    verifier: Verifier, signed: bytes
) -> None:
    assert verdict_of(verifier, update(signed, mk.reuse_clause_number)) != Verdict.VALID


def test_an_appearance_longer_than_its_length_is_caught(verifier: Verifier, signed: bytes) -> None:
    """A light highlight whose stream runs past /Length into a black fill that poppler
    reads (it scans for 'endstream'): pyHanko reads strictly and fails the analysis."""
    assert verdict_of(verifier, mk.highlight_with_short_length(signed)) != Verdict.VALID


def test_a_new_signature_field_drawn_over_the_amount_is_caught(
    verifier: Verifier, signed: bytes, pki: ThrowawayPki
) -> None:
    """The "sneaky signature" attack: an unsigned signature field whose widget writes
    another amount; at P=2 too."""
    assert (
        verdict_of(verifier, update(signed, mk.empty_signature_field_over_amount)) != Verdict.VALID
    )
    certified = rw.sign_with(letter(), pki, pki.signer, certify=MDPPerm.FILL_FORMS)
    attacked = update(certified, mk.empty_signature_field_over_amount)
    assert verdict_of(verifier, attacked) != Verdict.VALID


def test_drawing_in_an_empty_signature_field_is_caught(
    verifier: Verifier, pki: ThrowawayPki
) -> None:
    """The document has an empty signature field over the amount, for a second signer;
    after the first signature, its widget gets an appearance nobody signs (approval
    and P=2)."""
    doc = mk.with_empty_signature_field(letter())
    for signed in (
        sign(doc, pki),
        rw.sign_with(doc, pki, pki.signer, certify=MDPPerm.FILL_FORMS),
    ):
        assert verdict_of(verifier, signed) == Verdict.VALID
        attacked = update(signed, mk.draw_in_empty_signature_field)
        assert verdict_of(verifier, attacked) != Verdict.VALID


def test_optional_content_switched_off_in_the_catalog_is_caught(
    verifier: Verifier, pki: ThrowawayPki
) -> None:
    signed = sign(sh.optional_letter(), pki)
    assert verdict_of(verifier, update(signed, sh.switch_clause_off_in_catalog)) != Verdict.VALID


def test_a_comment_given_an_appearance_later_is_caught(verifier: Verifier, signed: bytes) -> None:
    noted = update(signed, mk.plain_note)
    assert verdict_of(verifier, noted) == Verdict.VALID
    assert (
        verdict_of(verifier, update(noted, mk.comment_given_an_appearance_later)) != Verdict.VALID
    )


def test_benign_steps_that_combine_into_an_overlay_are_caught(
    verifier: Verifier, signed: bytes
) -> None:
    """Step 1 (valid on its own): a plain note that carries, unused in its appearance's
    resources, a free-text overlay without /Type; /Annots made indirect and listed in a
    new structure tree. Step 2 appends the overlay to that array. pyHanko compares every
    revision with the signed one, where the array is neither new nor in the tree."""
    staged = update(signed, mk.stage_overlay)
    # (step 1 alone is refused too since notes may only draw light, blended shapes)
    assert verdict_of(verifier, update(staged, mk.release_overlay)) != Verdict.VALID


# ------------------------------------------------------------ certified documents

CERTIFIED_BYPASSES = [
    fixed(
        "P3-highlight-rg-with-4-operands",
        (MDPPerm.ANNOTATE, mk.highlight_with_extra_colour_operands),
        "P=3 permits annotations; " + _ARITY,
    ),
    fixed(
        "P3-highlight-transfer-function",
        (MDPPerm.ANNOTATE, mk.highlight_with_transfer_function),
        "P=3 permits annotations; " + _TRANSFER,
    ),
    fixed(
        "P3-note-draws-digits",
        (MDPPerm.ANNOTATE, mk.note_drawing_digits_with_paths),
        "P=3 permits annotations; " + _ICON,
    ),
]


@pytest.mark.parametrize("case", CERTIFIED_BYPASSES)
def test_certified_documents_with_bypasses(
    verifier: Verifier, pki: ThrowawayPki, case: tuple[MDPPerm, Edit]
) -> None:
    permission, attack = case
    certified = rw.sign_with(letter(), pki, pki.signer, certify=permission)
    assert verdict_of(verifier, update(certified, attack)) != Verdict.VALID


CERTIFIED_PREPARED = [
    fixed(
        "P2-struct-K-shares-page-contents-array",
        (MDPPerm.FILL_FORMS, sh.shared_array_letter, sh.drop_clause_from_shared_array),
        "P=2 permits FORM_FILLING, the level StructureTreeRule gives; " + _SHARED + "/Contents",
    ),
    fixed(
        "P2-struct-K-shares-page-Annots-array",
        (MDPPerm.FILL_FORMS, sh.shared_annots_letter, sh.put_overlay_on_page),
        "an annotation added to a document certified at P=2, which forbids annotations: "
        "the change is rated FORM_FILLING, and the inventory never sees the annotation; "
        + _SHARED
        + "/Annots",
    ),
    pytest.param(
        (MDPPerm.NO_CHANGES, sh.shared_array_letter, sh.drop_clause_from_shared_array),
        id="P1-struct-K-shares-page-contents-array",
    ),
]


@pytest.mark.parametrize("case", CERTIFIED_PREPARED)
def test_certified_prepared_documents(
    verifier: Verifier, pki: ThrowawayPki, case: tuple[MDPPerm, Callable[[], bytes], Edit]
) -> None:
    permission, prepare, attack = case
    certified = rw.sign_with(prepare(), pki, pki.signer, certify=permission)
    assert verdict_of(verifier, certified) == Verdict.VALID
    assert verdict_of(verifier, update(certified, attack)) != Verdict.VALID

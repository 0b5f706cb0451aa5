"""Changes after signing that ISO 32000-2 (12.8.2) permits and a reader does not see.

pyHanko's standard difference analysis explains signatures, form filling, validation
data and metadata; everything else is "unexplained" and fails. Real documents carry
more benign changes than that, which EU DSS reports as valid with a warning:

* annotations added (or comments edited) in a later revision;
* a structure tree (``/StructTreeRoot``, tagging for accessibility) added or extended;
* named destinations (``/Names /Dests``) added.

The rules of :mod:`.change_rules` explain those changes to pyHanko, so that what
remains unexplained is still a ``SuspiciousModification``. Whether an explained change
is *allowed* is then decided per signature (:mod:`.policy`) from :func:`inventory`:
a DocMDP certification forbids annotations below level 3 (pyHanko's ``docmdp_ok``), and
an annotation that changes what a reader sees or brings active content (:mod:`.marks`)
is refused whatever the permissions (the "evil annotation" attack).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, StandardDiffPolicy
from pyhanko.sign.diff_analysis.constants import ROOT_EXEMPT_STRICT_COMPARISON
from pyhanko.sign.diff_analysis.rules.file_structure_rules import CatalogModificationRule

from services.signing.verification import marks
from services.signing.verification.change_rules import (
    MAX_WALK,
    AnnotationRule,
    NamesRule,
    StructureTreeRule,
    annots_raw,
    page_touched,
    pages,
    structure_refs,
    subtype_of,
    updated_refs,
)


class ChangeKind(StrEnum):
    ANNOTATION = "annotation"
    STRUCTURE = "structure_tree"
    NAMES = "named_destinations"
    VALIDATION_DATA = "validation_data"
    METADATA = "metadata"
    FORM_FIELD = "form_field"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class Change:
    revision: int
    kind: ChangeKind
    detail: str
    # why it is refused whatever the signature permits (it changes what a reader sees,
    # or brings active content); None: the signature's permissions decide
    problem: str | None = None


def benign_diff_policy() -> StandardDiffPolicy:
    """pyHanko's standard policy plus the rules above."""
    base = DEFAULT_DIFF_POLICY
    assert isinstance(base, StandardDiffPolicy)
    catalog = CatalogModificationRule(
        ignored_keys=ROOT_EXEMPT_STRICT_COMPARISON | {"/StructTreeRoot", "/Names"}
    )
    rules = [r for r in base.global_rules if not isinstance(r, CatalogModificationRule)]
    return StandardDiffPolicy(
        global_rules=[catalog, *rules, AnnotationRule(), StructureTreeRule(), NamesRule()],
        form_rule=base.form_rule,
    )


def inventory(reader: PdfFileReader, signed_revision: int) -> list[Change]:
    """The annotations, structure, names, validation data and metadata changed in
    each revision after ``signed_revision`` (form fields come from pyHanko's analysis)."""
    out: list[Change] = []
    total = reader.xrefs.total_revisions
    for revision in range(signed_revision + 1, total):
        old = reader.get_historical_resolver(revision - 1)
        new = reader.get_historical_resolver(revision)
        out.extend(_root_changes(old, new))
        out.extend(_annotation_changes(old, new))
    return out


_ROOT_KINDS = {
    "/DSS": ChangeKind.VALIDATION_DATA,
    "/Metadata": ChangeKind.METADATA,
    "/StructTreeRoot": ChangeKind.STRUCTURE,
    "/Names": ChangeKind.NAMES,
}


def _root_changes(old: HistoricalResolver, new: HistoricalResolver) -> Iterator[Change]:
    updated = updated_refs(new)
    for key, kind in _ROOT_KINDS.items():
        if key not in new.root:
            continue
        raw = new.root.raw_get(key)
        was = old.root.raw_get(key) if key in old.root else None
        changed = was is None or (
            isinstance(raw, generic.IndirectObject)
            and (raw.reference in updated or not isinstance(was, generic.IndirectObject))
        )
        if kind == ChangeKind.STRUCTURE and not changed:
            changed = any(ref in updated for ref, _shaped in structure_refs(new))
        if changed:
            what = "added" if was is None else "updated"
            yield Change(new.revision, kind, f"{key} {what}")


def _annotation_changes(old: HistoricalResolver, new: HistoricalResolver) -> Iterator[Change]:
    updated = updated_refs(new)
    old_pages = dict(pages(old))
    for page_ref, index in pages(new):
        if not page_touched(new, page_ref, updated) or page_ref not in old_pages:
            continue
        where = f"on page {index + 1}"
        before_page = old(page_ref)
        before = {
            a.reference for a in annots_raw(before_page) if isinstance(a, generic.IndirectObject)
        }
        for annot in annots_raw(new(page_ref)):
            if not isinstance(annot, generic.IndirectObject):
                yield Change(
                    new.revision,
                    ChangeKind.ANNOTATION,
                    f"an annotation written into the page dictionary {where}",
                    problem="an annotation that is not an object of its own cannot be judged",
                )
                continue
            obj = annot.get_object()
            subtype = subtype_of(annot)
            if subtype == "/Widget" or not isinstance(obj, generic.DictionaryObject):
                continue
            if annot.reference not in before:
                what = "added"
            elif annot.reference in updated:
                what = "edited"
            else:
                continue
            problem = None
            active = marks.active_content(obj)
            if active is not None:
                problem = f"it carries {active}"
            elif marks.paints_over_page(obj):
                problem = "it is drawn over the page and changes what a reader sees"
            yield Change(
                new.revision,
                ChangeKind.ANNOTATION,
                f"{subtype.lstrip('/')} annotation {what} {where}",
                problem=problem,
            )


def field_names(reader: PdfFileReader, revision: int) -> set[str]:
    """Fully qualified names of the form fields in a revision (bounded walk)."""
    root = reader.get_historical_resolver(revision).root
    if "/AcroForm" not in root:
        return set()
    form = root["/AcroForm"]
    if not isinstance(form, generic.DictionaryObject) or "/Fields" not in form:
        return set()
    names: set[str] = set()
    stack: list[tuple[generic.PdfObject, str]] = [(f, "") for f in form["/Fields"]]
    visited = 0
    while stack and visited < MAX_WALK:
        node, prefix = stack.pop()
        visited += 1
        obj = node.get_object()
        if not isinstance(obj, generic.DictionaryObject):
            continue
        name = prefix
        if "/T" in obj:
            part = str(obj["/T"])
            name = f"{prefix}.{part}" if prefix else part
        kids = obj.get("/Kids")
        if isinstance(kids, generic.ArrayObject) and kids:
            stack.extend((k, name) for k in kids)
        if name:
            names.add(name)
    return names

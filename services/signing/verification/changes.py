"""Changes after signing that ISO 32000-2 (12.8.2) permits and a reader does not see.

pyHanko's standard difference analysis explains signatures, form filling, validation
data and metadata; everything else is "unexplained" and fails. Real documents carry
more benign changes than that, which EU DSS reports as valid with a warning:

* annotations added (or edited) in a later revision: comments, highlights, links;
* a structure tree (``/StructTreeRoot``, tagging for accessibility) added or extended;
* named destinations (``/Names /Dests``) added.

The rules below explain those changes to pyHanko, so that what remains unexplained is
still a ``SuspiciousModification``. They never vouch for an object that existed before
the revision (only for objects the revision creates, and for a page dictionary whose
only change is its ``/Annots``): changing a signed object through one of these paths
stays unexplained. Whether an explained change is *allowed* is then decided per
signature (:mod:`.policy`) from :func:`inventory`: a DocMDP certification forbids
annotations below level 3 (pyHanko's ``docmdp_ok``), and an annotation that paints over
the page (a stamp, free text, a shape, ink) is refused whatever the permissions, since
it changes what a reader sees (the "evil annotation" attack).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.diff_analysis import (
    DEFAULT_DIFF_POLICY,
    ModificationLevel,
    QualifiedWhitelistRule,
    ReferenceUpdate,
    StandardDiffPolicy,
    SuspiciousModification,
)
from pyhanko.sign.diff_analysis.commons import compare_dicts
from pyhanko.sign.diff_analysis.constants import ROOT_EXEMPT_STRICT_COMPARISON
from pyhanko.sign.diff_analysis.rules.file_structure_rules import CatalogModificationRule

#: Annotation types that mark up or point at the page without painting over it.
COMMENT_SUBTYPES = frozenset({"/Text", "/Popup", "/Highlight", "/Underline", "/Squiggly", "/Link"})
HIDDEN_FLAGS = 2 | 32  # Hidden, NoView (ISO 32000-2 Table 167)
#: Keys of an annotation that point back at existing objects: never followed.
BACK_POINTERS = frozenset({"/P", "/Parent", "/IRT", "/Dest", "/StructParent"})
#: Keys of a structure element that point at page content: never followed.
CONTENT_POINTERS = frozenset({"/Pg", "/Obj", "/Stm", "/StmOwn", "/P"})
STRUCT_TYPES = frozenset({"/StructTreeRoot", "/StructElem", "/MCR", "/OBJR"})
#: Name-tree categories whose later addition is benign.
BENIGN_NAMES = frozenset({"/Dests"})
MAX_WALK = 20_000  # objects visited per rule and revision


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
    visible: bool  # it changes what a reader sees of the page


def _fresh(new: HistoricalResolver, ref: generic.Reference) -> bool:
    """Whether ``ref`` was created (not just overwritten) in ``new``'s revision."""
    try:
        return new.reader.xrefs.get_introducing_revision(ref) == new.revision
    except Exception:
        return False


def _updated(new: HistoricalResolver) -> set[generic.Reference]:
    return set(new.reader.xrefs.explicit_refs_in_revision(new.revision))


def _pages(resolver: HistoricalResolver) -> Iterator[tuple[generic.Reference, int]]:
    """Every page's reference and index in a revision (depth-first, bounded)."""
    stack: list[generic.PdfObject] = [resolver.root.raw_get("/Pages")]
    seen: set[generic.Reference] = set()
    index = 0
    while stack and len(seen) < MAX_WALK:
        node = stack.pop()
        if not isinstance(node, generic.IndirectObject):
            continue
        ref = node.reference
        if ref in seen:
            continue
        seen.add(ref)
        obj = node.get_object()
        if not isinstance(obj, generic.DictionaryObject):
            continue
        if "/Kids" in obj:
            kids = obj.raw_get("/Kids")
            kids = kids.get_object() if isinstance(kids, generic.IndirectObject) else kids
            if isinstance(kids, generic.ArrayObject):
                stack.extend(reversed(list(kids)))
        else:
            yield ref, index
            index += 1


def _annots(page: generic.DictionaryObject) -> list[generic.IndirectObject]:
    if "/Annots" not in page:
        return []
    annots = page["/Annots"]
    if not isinstance(annots, generic.ArrayObject):
        return []
    return [a for a in annots if isinstance(a, generic.IndirectObject)]


def _subtype(annot: generic.PdfObject) -> str:
    obj = annot.get_object()
    if not isinstance(obj, generic.DictionaryObject):
        return "?"
    return str(obj.get("/Subtype", "?"))


def paints_over_page(annot: generic.DictionaryObject) -> bool:
    """Whether a (non-widget) annotation changes what a reader sees of the page.

    A comment, highlight, underline or link is a mark beside or on the text, as long
    as its appearance cannot cover or add content: no appearance stream (the viewer
    draws its standard icon or mark), a sticky-note icon of icon size, or a mark whose
    appearance paints only shapes blended with Multiply/Darken (which can only darken
    what is under it, never hide it or add words). Anything else, whatever its type,
    paints over the page."""
    try:
        flags = int(annot.get("/F", 0))
    except (TypeError, ValueError):
        flags = 0
    if flags & HIDDEN_FLAGS:
        return False
    subtype = str(annot.get("/Subtype", ""))
    if subtype not in COMMENT_SUBTYPES:
        return True
    if "/AP" not in annot:
        return False
    if subtype == "/Text":
        return not _icon_sized(annot)
    if subtype in MARK_SUBTYPES:
        return not all(_only_blended_shapes(a) for a in _appearances(annot))
    return True  # a link or a popup has no business drawing


#: Markup annotations whose appearance marks the text under them.
MARK_SUBTYPES = frozenset({"/Highlight", "/Underline", "/Squiggly"})
ICON_POINTS = 40.0  # a sticky note's icon is 20-24 points a side
#: Content operators that add words or pictures (text, images, forms, shadings).
_ADDING = re.compile(rb"(?<![A-Za-z])(Tj|TJ|'|\"|Do|BI|sh)(?![A-Za-z])")
_BLEND = frozenset({"/Multiply", "/Darken"})
MAX_APPEARANCE_BYTES = 256 * 1024


def _icon_sized(annot: generic.DictionaryObject) -> bool:
    try:
        x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    except Exception:
        return False
    return abs(x2 - x1) <= ICON_POINTS and abs(y2 - y1) <= ICON_POINTS


def _appearances(annot: generic.DictionaryObject) -> list[generic.PdfObject]:
    """Every appearance stream of an annotation (normal, rollover, down; each may be a
    dictionary of states)."""
    found: list[generic.PdfObject] = []
    ap = annot["/AP"]
    if not isinstance(ap, generic.DictionaryObject):
        return [ap]
    for key in ("/N", "/R", "/D"):
        if key not in ap:
            continue
        value = ap[key]
        if isinstance(value, generic.DictionaryObject) and not isinstance(
            value, generic.StreamObject
        ):
            found.extend(value[state] for state in value)
        else:
            found.append(value)
    return found


def _only_blended_shapes(appearance: generic.PdfObject) -> bool:
    if not isinstance(appearance, generic.StreamObject):
        return False
    try:
        data = appearance.data
    except Exception:
        return False
    if len(data) > MAX_APPEARANCE_BYTES or _ADDING.search(data):
        return False
    resources = appearance.get("/Resources")
    if not isinstance(resources, generic.DictionaryObject):
        return False
    states = resources.get("/ExtGState")
    if not isinstance(states, generic.DictionaryObject) or not states:
        return False
    # every graphics state it may select blends by darkening ...
    if not all(str(states[name].get("/BM")) in _BLEND for name in states):
        return False
    # ... and one is selected before anything is painted (q/Q save and restore it)
    blended = [False]
    for op in _OPERATOR.findall(data):
        if op == b"q":
            blended.append(blended[-1])
        elif op == b"Q":
            if len(blended) > 1:
                blended.pop()
        elif op == b"gs":
            blended[-1] = True
        elif op in _PAINTING and not blended[-1]:
            return False
    return True


_OPERATOR = re.compile(rb"(?<![A-Za-z0-9*/.\-])([A-Za-z]+\*?)(?![A-Za-z0-9*])")
_PAINTING = frozenset({b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"S", b"s"})


def _fresh_closure(
    new: HistoricalResolver, start: generic.PdfObject, skip: frozenset[str]
) -> Iterator[generic.Reference]:
    """Objects created in ``new``'s revision reachable from ``start`` (not through
    ``skip`` keys); an older object ends the walk there."""
    stack = [start]
    seen: set[generic.Reference] = set()
    while stack and len(seen) < MAX_WALK:
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            ref = node.reference
            if ref in seen or not _fresh(new, ref):
                continue
            seen.add(ref)
            yield ref
            node = node.get_object()
        if isinstance(node, generic.DictionaryObject):  # streams included
            stack.extend(v for k, v in node.items() if k not in skip)
        elif isinstance(node, generic.ArrayObject):
            stack.extend(node)


class AnnotationRule(QualifiedWhitelistRule):
    """Annotations added to, or edited on, a page; widgets are left to the form rules."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        updated = _updated(new)
        old_pages = dict(_pages(old))
        for page_ref, _index in _pages(new):
            if page_ref not in updated or page_ref not in old_pages:
                continue
            old_page, new_page = old(page_ref), new(page_ref)
            if not compare_dicts(old_page, new_page, frozenset({"/Annots"}), raise_exc=False):
                continue  # something other than annotations changed: not ours to explain
            before = {a.reference for a in _annots(old_page)}
            after = _annots(new_page)
            if not before <= {a.reference for a in after}:
                continue  # an annotation was removed: not explained
            explained: list[generic.Reference] = []
            for annot in after:
                ref = annot.reference
                if _subtype(annot) == "/Widget":
                    continue
                if ref not in before:
                    if not _fresh(new, ref):
                        break  # an older object moved onto the page: not explained
                    explained.extend(_fresh_closure(new, annot, BACK_POINTERS))
                elif ref in updated:
                    if _subtype(old(ref)) != _subtype(annot):
                        break
                    explained.append(ref)
                    explained.extend(_fresh_closure(new, annot.get_object(), BACK_POINTERS))
            else:
                if not explained:
                    continue  # widgets only: the form rules explain the page
                raw = new_page.raw_get("/Annots")
                if isinstance(raw, generic.IndirectObject) and raw.reference in updated:
                    explained.append(raw.reference)
                explained.append(page_ref)
                for ref in explained:
                    yield ModificationLevel.ANNOTATIONS, ReferenceUpdate(ref)


class StructureTreeRule(QualifiedWhitelistRule):
    """A structure tree added or extended: structure elements and their number trees,
    never the page content or annotations they point at."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        if "/StructTreeRoot" not in new.root:
            return
        updated = _updated(new)
        stack: list[generic.PdfObject] = [new.root.raw_get("/StructTreeRoot")]
        seen: set[generic.Reference] = set()
        while stack and len(seen) < MAX_WALK:
            node = stack.pop()
            if isinstance(node, generic.IndirectObject):
                ref = node.reference
                if ref in seen:
                    continue
                seen.add(ref)
                obj = node.get_object()
                if isinstance(obj, generic.StreamObject):
                    continue
                if ref in updated and _is_structure(obj):
                    yield ModificationLevel.FORM_FILLING, ReferenceUpdate(ref)
                node = obj
            if isinstance(node, generic.DictionaryObject):
                stack.extend(v for k, v in node.items() if k not in CONTENT_POINTERS)
            elif isinstance(node, generic.ArrayObject):
                stack.extend(node)


def _is_structure(obj: generic.PdfObject) -> bool:
    if isinstance(obj, generic.ArrayObject):
        return True  # a /K array or a number tree's /Nums
    if not isinstance(obj, generic.DictionaryObject):
        return False
    if str(obj.get("/Type", "")) in STRUCT_TYPES:
        return True
    keys = set(obj.keys())
    # number-tree nodes (the /ParentTree), role and class maps, attribute dictionaries
    return (bool(keys) and keys <= {"/Nums", "/Kids", "/Limits"}) or ("/S" in keys and "/K" in keys)


class NamesRule(QualifiedWhitelistRule):
    """Named destinations added to the document's name dictionary; any other change
    to it (JavaScript, embedded files, page templates…) stays unexplained."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        # Indexing dereferences; DictionaryObject.get would hand back the reference.
        old_names = old.root["/Names"] if "/Names" in old.root else None  # noqa: SIM401
        new_names = new.root["/Names"] if "/Names" in new.root else None  # noqa: SIM401
        if new_names is None:
            if old_names is not None:
                raise SuspiciousModification("the name dictionary was removed")
            return
        if not isinstance(new_names, generic.DictionaryObject):
            raise SuspiciousModification("the name dictionary is not a dictionary")
        base = old_names if old_names is not None else generic.DictionaryObject()
        compare_dicts(base, new_names, BENIGN_NAMES)  # raises on any other difference
        raw = new.root.raw_get("/Names")
        updated = _updated(new)
        if isinstance(raw, generic.IndirectObject) and raw.reference in updated:
            yield ModificationLevel.FORM_FILLING, ReferenceUpdate(raw.reference)
        for key in BENIGN_NAMES & set(new_names.keys()):
            for ref in _fresh_closure(new, new_names.raw_get(key), frozenset({"/D"})):
                yield ModificationLevel.FORM_FILLING, ReferenceUpdate(ref)


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
    updated = _updated(new)
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
            changed = any(_fresh(new, r) for r in _refs_below(raw, CONTENT_POINTERS))
        if changed:
            what = "added" if was is None else "updated"
            yield Change(new.revision, kind, f"{key} {what}", visible=False)


def _refs_below(start: generic.PdfObject, skip: frozenset[str]) -> Iterator[generic.Reference]:
    stack = [start]
    seen: set[generic.Reference] = set()
    while stack and len(seen) < MAX_WALK:
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            if node.reference in seen:
                continue
            seen.add(node.reference)
            yield node.reference
            node = node.get_object()
        if isinstance(node, generic.DictionaryObject) and not isinstance(
            node, generic.StreamObject
        ):
            stack.extend(v for k, v in node.items() if k not in skip)
        elif isinstance(node, generic.ArrayObject):
            stack.extend(node)


def _annotation_changes(old: HistoricalResolver, new: HistoricalResolver) -> Iterator[Change]:
    updated = _updated(new)
    old_pages = dict(_pages(old))
    for page_ref, index in _pages(new):
        if page_ref not in updated or page_ref not in old_pages:
            continue
        before = {a.reference for a in _annots(old(page_ref))}
        for annot in _annots(new(page_ref)):
            subtype = _subtype(annot)
            if subtype == "/Widget":
                continue
            if annot.reference not in before:
                what = "added"
            elif annot.reference in updated:
                what = "edited"
            else:
                continue
            obj = annot.get_object()
            visible = isinstance(obj, generic.DictionaryObject) and paints_over_page(obj)
            yield Change(
                new.revision,
                ChangeKind.ANNOTATION,
                f"{subtype.lstrip('/')} annotation {what} on page {index + 1}",
                visible=visible,
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

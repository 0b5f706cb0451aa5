"""Whitelist rules that explain benign changes after signing to pyHanko's analysis.

Each rule vouches only for what it can see is harmless, and by *shape*: an object the
revision created (never an older one rewritten), or an older object that already was a
structure element; a page dictionary whose only change is its ``/Annots``. Whatever a
rule does not vouch for stays unexplained, and pyHanko then reports a
``SuspiciousModification``. Whether an explained annotation is *allowed* is decided
later from :func:`.changes.inventory` and :mod:`.marks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis import (
    ModificationLevel,
    QualifiedWhitelistRule,
    ReferenceUpdate,
    SuspiciousModification,
)
from pyhanko.sign.diff_analysis.commons import compare_dicts

MAX_WALK = 20_000  # objects visited per rule and revision

#: What a reviewer may change in an existing comment: its text and its popup, never
#: its appearance, place, flags or action.
EDITABLE_KEYS = frozenset(
    {"/Contents", "/M", "/RC", "/Open", "/T", "/NM", "/CreationDate", "/Subj", "/State",
     "/StateModel", "/Popup"}
)  # fmt: skip
#: Shapes that are never part of an annotation's appearance or a structure tree.
_PAGE_TYPES = frozenset({"/Page", "/Pages", "/Catalog", "/Annot"})

STRUCT_TYPES = frozenset({"/StructTreeRoot", "/StructElem", "/MCR", "/OBJR"})
_STRUCT_KEYS = {
    "/StructTreeRoot": frozenset(
        {"/Type", "/K", "/IDTree", "/ParentTree", "/ParentTreeNextKey", "/RoleMap",
         "/ClassMap", "/Namespaces", "/PronunciationLexicon", "/AF"}
    ),
    "/StructElem": frozenset(
        {"/Type", "/S", "/P", "/ID", "/Ref", "/Pg", "/K", "/A", "/C", "/R", "/T", "/Lang",
         "/Alt", "/E", "/ActualText", "/AF", "/NS", "/PhoneticAlphabet", "/Phoneme"}
    ),
    "/MCR": frozenset({"/Type", "/Pg", "/Stm", "/StmOwn", "/MCID"}),
    "/OBJR": frozenset({"/Type", "/Pg", "/Obj"}),
}  # fmt: skip
_TREE_NODE_KEYS = frozenset({"/Nums", "/Names", "/Kids", "/Limits"})
#: Keys of structure objects that point into the page: never followed.
CONTENT_POINTERS = frozenset({"/Pg", "/Obj", "/Stm", "/StmOwn", "/P"})
BENIGN_NAMES = frozenset({"/Dests"})


def fresh(new: HistoricalResolver, ref: generic.Reference) -> bool:
    """Whether ``ref`` was created (not just overwritten) in ``new``'s revision."""
    try:
        return new.reader.xrefs.get_introducing_revision(ref) == new.revision
    except Exception:
        return False


def updated_refs(new: HistoricalResolver) -> set[generic.Reference]:
    return set(new.reader.xrefs.explicit_refs_in_revision(new.revision))


def pages(resolver: HistoricalResolver) -> Iterator[tuple[generic.Reference, int]]:
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


def page_touched(
    new: HistoricalResolver, page_ref: generic.Reference, updated: set[generic.Reference]
) -> bool:
    """Whether a revision changed a page or its indirect ``/Annots`` array."""
    if page_ref in updated:
        return True
    raw = new(page_ref).raw_get("/Annots") if "/Annots" in new(page_ref) else None
    return isinstance(raw, generic.IndirectObject) and raw.reference in updated


def annots_raw(page: generic.DictionaryObject) -> list[generic.PdfObject]:
    """The entries of a page's ``/Annots``, as written (indirect or not)."""
    if "/Annots" not in page:
        return []
    annots = page["/Annots"]
    return list(annots) if isinstance(annots, generic.ArrayObject) else []


def subtype_of(annot: generic.PdfObject) -> str:
    obj = annot.get_object()
    if not isinstance(obj, generic.DictionaryObject):
        return "?"
    return str(obj.get("/Subtype", "?"))


def _forbidden_shape(obj: generic.PdfObject) -> bool:
    """An object that has no place inside an annotation's appearance."""
    if not isinstance(obj, generic.DictionaryObject):
        return False
    if str(obj.get("/Type", "")) in _PAGE_TYPES or "/FT" in obj:
        return True
    return str(obj.get("/Subtype", "")) == "/Widget" or ("/Kids" in obj and "/Count" in obj)


def appearance_closure(
    new: HistoricalResolver, annot: generic.DictionaryObject
) -> list[generic.Reference] | None:
    """The objects a new annotation brings with it: those its revision created under
    its ``/AP``, and its new ``/Popup`` (with that popup's appearance). ``None`` when
    one of them has a shape no appearance has (a page, a form field, a widget)."""
    found: list[generic.Reference] = []
    starts: list[generic.PdfObject] = []
    if "/AP" in annot:
        starts.append(annot.raw_get("/AP"))
    popup = annot.raw_get("/Popup") if "/Popup" in annot else None
    if isinstance(popup, generic.IndirectObject) and fresh(new, popup.reference):
        target = popup.get_object()
        if not isinstance(target, generic.DictionaryObject) or target.get("/Subtype") != "/Popup":
            return None
        found.append(popup.reference)
        if "/AP" in target:
            starts.append(target.raw_get("/AP"))
    stack = list(starts)
    seen: set[generic.Reference] = set()
    while stack and len(seen) < MAX_WALK:
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            ref = node.reference
            if ref in seen or not fresh(new, ref):
                continue  # an older object: if it changed, it stays unexplained
            seen.add(ref)
            node = node.get_object()
            if _forbidden_shape(node):
                return None
            found.append(ref)
        if isinstance(node, generic.DictionaryObject):  # streams included
            stack.extend(node.values())
        elif isinstance(node, generic.ArrayObject):
            stack.extend(node)
    return found


class AnnotationRule(QualifiedWhitelistRule):
    """Annotations added to a page, or comments edited; widgets are left to the form
    rules. A page is vouched for only when its only change is ``/Annots``, nothing
    was removed from it, and every entry is an object of its own."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        updated = updated_refs(new)
        old_pages = dict(pages(old))
        for page_ref, _index in pages(new):
            if not page_touched(new, page_ref, updated) or page_ref not in old_pages:
                continue
            explained = self._page(old, new, page_ref, updated)
            for ref in explained or ():
                yield ModificationLevel.ANNOTATIONS, ReferenceUpdate(ref)

    @staticmethod
    def _page(
        old: HistoricalResolver,
        new: HistoricalResolver,
        page_ref: generic.Reference,
        updated: set[generic.Reference],
    ) -> list[generic.Reference] | None:
        old_page, new_page = old(page_ref), new(page_ref)
        if not compare_dicts(old_page, new_page, frozenset({"/Annots"}), raise_exc=False):
            return None  # something other than annotations changed: not ours to explain
        after = annots_raw(new_page)
        if not all(isinstance(a, generic.IndirectObject) for a in after):
            return None  # a direct annotation has no reference to judge it by
        before = {
            a.reference for a in annots_raw(old_page) if isinstance(a, generic.IndirectObject)
        }
        refs = [a.reference for a in after if isinstance(a, generic.IndirectObject)]
        if not before <= set(refs):
            return None  # an annotation was removed
        explained: list[generic.Reference] = []
        for annot in after:
            assert isinstance(annot, generic.IndirectObject)
            ref, obj = annot.reference, annot.get_object()
            if not isinstance(obj, generic.DictionaryObject):
                return None
            if str(obj.get("/Subtype", "")) == "/Widget":
                continue
            if ref not in before:
                closure = appearance_closure(new, obj) if fresh(new, ref) else None
                if closure is None:
                    return None
                explained += [ref, *closure]
            elif ref in updated:
                previous = old(ref)
                if not compare_dicts(previous, obj, EDITABLE_KEYS, raise_exc=False):
                    return None  # its appearance, place, flags or action changed
                closure = appearance_closure(new, obj)
                if closure is None:
                    return None
                explained += [ref, *closure]
        if not explained:
            return None  # widgets only: the form rules explain the page
        raw = new_page.raw_get("/Annots")
        if isinstance(raw, generic.IndirectObject) and raw.reference in updated:
            explained.append(raw.reference)
        if page_ref in updated:
            explained.append(page_ref)
        return explained


def _structure_shaped(obj: generic.PdfObject) -> bool:
    """A structure tree's own objects: elements, marked-content and object references,
    number/name tree nodes, and arrays (a ``/K`` list or a node's ``/Nums``)."""
    if isinstance(obj, generic.StreamObject):
        return False
    if isinstance(obj, generic.ArrayObject):
        return True
    if not isinstance(obj, generic.DictionaryObject) or not obj:
        return False
    keys = set(obj.keys())
    kind = str(obj.get("/Type", ""))
    if kind in _STRUCT_KEYS:
        return keys <= _STRUCT_KEYS[kind]
    if "/Type" in obj:
        return False
    if "/S" in keys and keys <= _STRUCT_KEYS["/StructElem"]:
        return True
    return keys <= _TREE_NODE_KEYS


def structure_refs(resolver: HistoricalResolver) -> Iterator[tuple[generic.Reference, bool]]:
    """Every indirect object reached from the structure tree through structure-shaped
    objects, and whether it is one (the walk stops at the others)."""
    if "/StructTreeRoot" not in resolver.root:
        return
    stack: list[generic.PdfObject] = [resolver.root.raw_get("/StructTreeRoot")]
    seen: set[generic.Reference] = set()
    while stack and len(seen) < MAX_WALK:
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            ref = node.reference
            if ref in seen:
                continue
            seen.add(ref)
            node = node.get_object()
            shaped = _structure_shaped(node)
            yield ref, shaped
            if not shaped:
                continue
        if isinstance(node, generic.DictionaryObject) and not isinstance(
            node, generic.StreamObject
        ):
            stack.extend(v for k, v in node.items() if k not in CONTENT_POINTERS)
        elif isinstance(node, generic.ArrayObject):
            stack.extend(node)


class StructureTreeRule(QualifiedWhitelistRule):
    """A structure tree added or extended: objects of structure shape that the revision
    created, or that already were part of the tree, never anything in the page."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterable[tuple[ModificationLevel, ReferenceUpdate]]:
        if "/StructTreeRoot" not in new.root:
            return
        updated = updated_refs(new)
        before = {ref for ref, shaped in structure_refs(old) if shaped}
        outside: set[generic.Reference] | None = None  # computed when first needed
        for ref, shaped in structure_refs(new):
            if not shaped or ref not in updated:
                continue
            if fresh(new, ref):
                yield ModificationLevel.FORM_FILLING, ReferenceUpdate(ref)
                continue
            if ref not in before:
                continue
            # An older structure object may be shared with the page (a /K array that
            # is also a /Contents array, a font's /Differences): vouch for it only when
            # nothing outside the structure tree reaches it, before or after.
            if outside is None:
                outside = reachable_outside_structure(old) | reachable_outside_structure(new)
            if ref not in outside:
                yield ModificationLevel.FORM_FILLING, ReferenceUpdate(ref)


#: How far the walk over the rest of the document goes before it gives up (and then
#: counts everything as reachable: no older structure object is vouched for).
MAX_DOCUMENT_WALK = 500_000


def reachable_outside_structure(resolver: HistoricalResolver) -> set[generic.Reference]:
    """Every indirect object reachable from the catalog other than through
    ``/StructTreeRoot`` (pages, resources, fonts, annotations, the form, names,
    optional content, outlines, actions…), or a set that matches everything when the
    document is too large to walk."""
    seen: set[generic.Reference] = set()
    stack: list[generic.PdfObject] = [v for k, v in resolver.root.items() if k != "/StructTreeRoot"]
    while stack:
        if len(seen) > MAX_DOCUMENT_WALK:
            return _Everything()
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            if node.reference in seen:
                continue
            seen.add(node.reference)
            try:
                node = node.get_object()
            except Exception:
                continue
        if isinstance(node, generic.DictionaryObject):  # streams included
            stack.extend(v for k, v in node.items() if k != "/StructTreeRoot")
        elif isinstance(node, generic.ArrayObject):
            stack.extend(node)
    return seen


class _Everything(set[generic.Reference]):
    def __contains__(self, item: object) -> bool:
        return True

    def __or__(self, other: object) -> _Everything:  # type: ignore[override]
        return self

    def __ror__(self, other: object) -> _Everything:
        return self


def _destination_shaped(obj: generic.PdfObject) -> bool:
    """A named destination: ``[page /Fit …]`` or ``<< /D [page /Fit …] >>``."""
    if isinstance(obj, generic.DictionaryObject) and not isinstance(obj, generic.StreamObject):
        return set(obj.keys()) == {"/D"}
    if not isinstance(obj, generic.ArrayObject) or not obj:
        return False
    return isinstance(obj[1] if len(obj) > 1 else None, generic.NameObject) and all(
        isinstance(v, (generic.NumberObject, generic.FloatObject, generic.NullObject))
        for v in list(obj)[2:]
    )


class NamesRule(QualifiedWhitelistRule):
    """Named destinations added to the document's name dictionary: name-tree nodes and
    destinations the revision created. Any other change to the name dictionary
    (JavaScript, embedded files, page templates…) stays unexplained."""

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
        for key in BENIGN_NAMES:
            if old_names is None or key not in old_names:
                continue
            if key not in new_names:
                raise SuspiciousModification(f"the {key} name tree was removed")
            kept = destinations(new_names.raw_get(key))
            for name, target in destinations(old_names.raw_get(key)).items():
                if kept.get(name) != target:  # a signed link now leads elsewhere
                    raise SuspiciousModification(f"the named destination {name!r} was changed")
        raw = new.root.raw_get("/Names")
        updated = updated_refs(new)
        if isinstance(raw, generic.IndirectObject) and raw.reference in updated:
            yield ModificationLevel.FORM_FILLING, ReferenceUpdate(raw.reference)
        for key in BENIGN_NAMES & set(new_names.keys()):
            for ref in _name_tree_refs(new, new_names.raw_get(key)):
                yield ModificationLevel.FORM_FILLING, ReferenceUpdate(ref)


def _name_tree_refs(
    new: HistoricalResolver, start: generic.PdfObject
) -> Iterator[generic.Reference]:
    """Objects of a name tree the revision created: nodes, and the destinations its
    ``/Names`` arrays map to (never what a destination points at)."""
    stack: list[tuple[generic.PdfObject, bool]] = [(start, False)]
    seen: set[generic.Reference] = set()
    while stack and len(seen) < MAX_WALK:
        node, is_value = stack.pop()
        if isinstance(node, generic.IndirectObject):
            ref = node.reference
            if ref in seen:
                continue
            seen.add(ref)
            obj = node.get_object()
            shaped = _destination_shaped(obj) if is_value else _node_shaped(obj)
            if not shaped:
                continue
            if fresh(new, ref):
                yield ref
            node = obj
        if is_value:
            if isinstance(node, generic.DictionaryObject):
                stack.append((node.raw_get("/D"), True))
            continue
        if not isinstance(node, generic.DictionaryObject):
            continue
        kids = node.get("/Kids")
        if isinstance(kids, generic.ArrayObject):
            stack.extend((k, False) for k in kids)
        names = node.get("/Names")
        if isinstance(names, generic.ArrayObject):
            stack.extend((v, True) for v in list(names)[1::2])


def destinations(tree: generic.PdfObject) -> dict[str, tuple[object, ...]]:
    """A name tree of destinations as plain data: name -> (page object number or
    number, view, parameters…)."""
    found: dict[str, tuple[object, ...]] = {}
    stack = [tree]
    visited = 0
    while stack and visited < MAX_WALK:
        visited += 1
        node = stack.pop().get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        kids = node.get("/Kids")
        if isinstance(kids, generic.ArrayObject):
            stack.extend(kids)
        names = node.get("/Names")
        if isinstance(names, generic.ArrayObject):
            items = list(names)
            for key, value in zip(items[0::2], items[1::2], strict=False):
                found[str(key)] = _plain_destination(value)
    return found


def _plain_destination(value: generic.PdfObject) -> tuple[object, ...]:
    raw = value.get_object()
    if isinstance(raw, generic.DictionaryObject) and "/D" in raw:
        raw = raw.raw_get("/D")
        raw = raw.get_object() if isinstance(raw, generic.IndirectObject) else raw
    if not isinstance(raw, generic.ArrayObject):
        return ("?", repr(raw)[:200])
    out: list[object] = []
    for item in raw:
        if isinstance(item, generic.IndirectObject):
            out.append(("ref", item.reference.idnum, item.reference.generation))
        else:
            out.append(str(item))
    return tuple(out)


def _node_shaped(obj: generic.PdfObject) -> bool:
    return (
        isinstance(obj, generic.DictionaryObject)
        and not isinstance(obj, generic.StreamObject)
        and bool(obj)
        and set(obj.keys()) <= _TREE_NODE_KEYS
    )

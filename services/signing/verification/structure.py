"""Reading the document structure defensively: what pyHanko silently skips, we report.

* the reader is strict first; a file that only opens leniently is marked as such;
* the page tree and the form tree are walked with cycle and size limits;
* signature fields are enumerated by our own walker, which records the entries
  pyHanko's ``enumerate_sig_fields`` would skip without a word (bare widgets holding a
  signature, non-dictionary entries, a ``/V`` that is not a dictionary);
* signature widgets reachable from a page but not from the form are reported;
* bytes after the last cross-reference section that are not a trailer (appended
  objects a repairing viewer might pick up) are reported.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass, field
from typing import IO, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus
from pyhanko.pdf_utils.misc import PdfStrictReadError
from pyhanko.pdf_utils.reader import PdfFileReader

MAX_TREE_DEPTH = 64
MAX_FIELD_NODES = 100_000
MAX_PAGE_NODES = 1_000_000
TAIL_LIMIT = 64 * 1024

_OBJ_HEADER = re.compile(rb"\d+\s+\d+\s+obj\b|\bendobj\b|\bstream\r?\n")
_WS = b" \t\r\n\x00\x0c"


#: How an offset that points before the start of the file is reported. Seeking there
#: fails with ``OSError: [Errno 22]`` on a file and ``ValueError`` on bytes in memory.
BAD_OFFSET = (
    "an offset in the file (startxref, /Prev, /XRefStm, a cross-reference entry or a "
    "/ByteRange) points before the start of the file"
)


def is_bad_offset(e: BaseException) -> bool:
    """A seek to a negative position: what a negative offset in the file leads to."""
    if isinstance(e, OSError) and e.errno == errno.EINVAL:
        return True
    return isinstance(e, ValueError) and str(e).startswith("negative seek value")


class Unreadable(Exception):
    """The document (or the part of it we must read) cannot be parsed."""


@dataclass
class FieldEntry:
    name: str
    ref: generic.IndirectObject
    field: generic.DictionaryObject
    value: Any  # raw /V (an IndirectObject normally), None when empty


@dataclass
class Structure:
    reader: PdfFileReader
    strict: bool
    strict_error: str | None
    encrypted: bool
    decrypted: bool
    pages: int = 0
    fields: list[FieldEntry] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)  # signature-relevant oddities


def open_reader(stream: IO[bytes], *, strict: bool) -> PdfFileReader:
    stream.seek(0)
    return PdfFileReader(stream, strict=strict)


def inspect(reader: PdfFileReader, *, strict: bool, strict_error: str | None) -> Structure:
    """Walk what every verdict depends on. Raises :class:`Unreadable`."""
    encrypted = bool(reader.encrypted)
    decrypted = not encrypted
    if encrypted:
        decrypted = _try_empty_password(reader)
    try:
        root = reader.root
        if not isinstance(root, generic.DictionaryObject):
            raise Unreadable("the document catalog is not a dictionary")
        pages = _count_pages(root)
    except (Unreadable, PdfStrictReadError):
        raise
    except RecursionError as e:
        raise Unreadable("the page tree is nested too deeply") from e
    except Exception as e:
        raise Unreadable(f"the page tree cannot be read: {_msg(e)}") from e
    s = Structure(reader, strict, strict_error, encrypted, decrypted, pages=pages)
    try:
        _walk_fields(root, s)
    except (Unreadable, PdfStrictReadError):
        raise
    except RecursionError as e:
        raise Unreadable("the form tree is nested too deeply") from e
    except Exception as e:
        raise Unreadable(f"the form tree cannot be read: {_msg(e)}") from e
    try:
        _orphan_signature_widgets(root, s)
    except Exception as e:  # the pages were readable a moment ago: report, do not hide
        s.anomalies.append(f"page annotations could not be checked for signatures: {_msg(e)}")
    return s


def entry(d: generic.DictionaryObject, key: str) -> Any:
    """``d[key]`` dereferenced, or ``None``.

    pyHanko's ``DictionaryObject.get`` returns indirect references *without*
    dereferencing them, so ``isinstance(d.get(k), ArrayObject)`` silently fails for an
    indirect array; ``d[k]`` dereferences.
    """
    if key not in d:
        return None
    return d[key]


def _try_empty_password(reader: PdfFileReader) -> bool:
    """Documents protected only by an owner password open with the empty user password."""
    try:
        result = reader.decrypt("")
        return bool(result.status != AuthStatus.FAILED)
    except Exception:
        return False


def _count_pages(root: generic.DictionaryObject) -> int:
    count = 0
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(root.raw_get("/Pages"), 0)]
    while stack:
        node_ref, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise Unreadable("the page tree is nested too deeply")
        if isinstance(node_ref, generic.IndirectObject):
            key = (node_ref.idnum, node_ref.generation)
            if key in seen:
                raise Unreadable("the page tree is circular or shares nodes")
            seen.add(key)
            if len(seen) > MAX_PAGE_NODES:
                raise Unreadable("the page tree is too large")
        node = node_ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            raise Unreadable("a page tree node is not a dictionary")
        if "/Kids" in node:
            kids = node.raw_get("/Kids")
            kids = kids.get_object() if isinstance(kids, generic.IndirectObject) else kids
            if not isinstance(kids, generic.ArrayObject):
                raise Unreadable("a page tree node has no array of kids")
            for kid in reversed(kids):
                stack.append((kid, depth + 1))
        else:
            count += 1
    if count == 0:
        raise Unreadable("the document has no pages")
    return count


def _name_of(d: generic.DictionaryObject) -> str | None:
    if "/T" not in d:
        return None
    try:
        return str(d["/T"])
    except Exception:  # an encrypted string we cannot decrypt
        raw = d.raw_get("/T", decrypt=generic.EncryptedObjAccess.RAW)
        data = getattr(raw, "original_bytes", b"")
        return f"(encrypted name {data[:6].hex()})"


def _field_type(chain: tuple[generic.DictionaryObject, ...]) -> Any:
    for d in chain:
        if "/FT" in d:
            return d.raw_get("/FT")
    return None


def _walk_fields(root: generic.DictionaryObject, s: Structure) -> None:
    if "/AcroForm" not in root:
        return
    form = root["/AcroForm"]
    if not isinstance(form, generic.DictionaryObject):
        s.anomalies.append("/AcroForm is not a dictionary")
        return
    if "/Fields" not in form:
        return
    fields = form["/Fields"]
    if not isinstance(fields, generic.ArrayObject):
        s.anomalies.append("/AcroForm /Fields is not an array")
        return
    counter = [0]
    _walk_field_list(fields, "", (), frozenset(), 0, s, counter)


def _walk_field_list(
    items: generic.ArrayObject,
    parent_name: str,
    parents: tuple[generic.DictionaryObject, ...],
    on_path: frozenset[tuple[int, int]],
    depth: int,
    s: Structure,
    counter: list[int],
) -> None:
    if depth > MAX_TREE_DEPTH:
        raise Unreadable("the form tree is nested too deeply")
    for item in items:
        counter[0] += 1
        if counter[0] > MAX_FIELD_NODES:
            raise Unreadable("the form tree is too large")
        if not isinstance(item, generic.IndirectObject):
            obj = item
            if isinstance(obj, generic.DictionaryObject) and "/V" in obj:
                s.anomalies.append("a form field given as a direct object holds a value")
            continue
        key = (item.idnum, item.generation)
        if key in on_path:
            raise Unreadable("the form tree is circular")
        node = item.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        chain = (node, *parents)
        own = _name_of(node)
        ftype = _field_type(chain)
        if own is None:
            # a bare widget: legal only as the kid of a terminal field, never with a value
            if ftype == "/Sig" and "/V" in node:
                s.anomalies.append("a signature value sits on a widget without a field name")
            continue
        name = f"{parent_name}.{own}" if parent_name else own
        if ftype == "/Sig":
            value = node.raw_get("/V") if "/V" in node else None
            if isinstance(value, generic.NullObject):
                value = None
            s.fields.append(FieldEntry(name, item, node, value))
        if "/Kids" in node:
            kids = node["/Kids"]
            if isinstance(kids, generic.ArrayObject):
                _walk_field_list(kids, name, chain, on_path | {key}, depth + 1, s, counter)


def _orphan_signature_widgets(root: generic.DictionaryObject, s: Structure) -> None:
    """Signature widgets on pages whose field is not in the form: never validated by
    pyHanko, possibly shown by a viewer. Reported, and the document is not valid."""
    known = {(f.ref.idnum, f.ref.generation) for f in s.fields}
    stack: list[Any] = [root.raw_get("/Pages")]
    seen: set[tuple[int, int]] = set()
    while stack:
        ref = stack.pop()
        if isinstance(ref, generic.IndirectObject):
            key = (ref.idnum, ref.generation)
            if key in seen:
                continue
            seen.add(key)
        node = ref.get_object()
        if not isinstance(node, generic.DictionaryObject):
            continue
        if "/Kids" in node:
            stack.extend(node["/Kids"])
            continue
        annots = entry(node, "/Annots")
        if not isinstance(annots, generic.ArrayObject):
            continue
        for annot_ref in annots:
            annot = annot_ref.get_object()
            if not isinstance(annot, generic.DictionaryObject):
                continue
            if "/Subtype" not in annot or annot["/Subtype"] != "/Widget":
                continue
            field_ref = annot_ref
            field_dict = annot
            if "/T" not in annot and "/Parent" in annot:
                field_ref = annot.raw_get("/Parent")
                field_dict = field_ref.get_object()
            if not isinstance(field_dict, generic.DictionaryObject):
                continue
            chain = [field_dict]
            parent = field_dict
            for _ in range(MAX_TREE_DEPTH):
                if "/Parent" not in parent:
                    break
                parent = parent["/Parent"]
                if not isinstance(parent, generic.DictionaryObject):
                    break
                chain.append(parent)
            if _field_type(tuple(chain)) != "/Sig" or "/V" not in field_dict:
                continue
            if not isinstance(field_ref, generic.IndirectObject) or (
                (field_ref.idnum, field_ref.generation) not in known
            ):
                s.anomalies.append(
                    "a signed signature widget on a page is not part of the form "
                    "(it would not be validated)"
                )


def unexplained_tail(reader: PdfFileReader, data_tail: bytes, tail_offset: int) -> str | None:
    """Objects after the last cross-reference section, or bytes after the last %%EOF.

    ``data_tail`` is the end of the file starting at ``tail_offset``. Returns a reason,
    or ``None`` when the file ends with a trailer, ``startxref``, ``%%EOF`` and
    whitespace only.
    """
    eof = data_tail.rfind(b"%%EOF")
    if eof < 0:
        return "the file does not end with %%EOF"
    after = data_tail[eof + 5 :]
    if after.strip(_WS):
        return f"{len(after.strip(_WS))} byte(s) follow the last %%EOF marker"
    xrefs = reader.xrefs
    last = xrefs.total_revisions - 1
    meta = xrefs.get_xref_container_info(last)
    start = meta.end_location - tail_offset
    if start < 0:
        return "the last cross-reference section is followed by too much data"
    between = data_tail[start:eof]
    if meta.stream_ref is not None and meta.xref_section_type.name == "STREAM":
        # a cross-reference stream is an object: its "endobj" comes after the data
        stripped = between.lstrip(_WS)
        if stripped.startswith(b"endobj"):
            between = stripped[len(b"endobj") :]
    if _OBJ_HEADER.search(between):
        return (
            "objects follow the last cross-reference section (bytes no cross-reference "
            "table accounts for)"
        )
    if between.count(b"startxref") != 1:
        return "more than one startxref follows the last cross-reference section"
    return None


def hole_is_signature_contents(stream: IO[bytes], byte_range: Any) -> bool:
    """The gap of a standard /ByteRange holds exactly one hex string: ``<...>``."""
    try:
        _s1, len1, start2, _len2 = (int(x) for x in byte_range)
    except (TypeError, ValueError):
        return False
    if len1 < 0 or start2 <= len1 + 1:
        return False
    stream.seek(len1)
    hole = stream.read(start2 - len1)
    if len(hole) != start2 - len1 or hole[:1] != b"<" or hole[-1:] != b">":
        return False
    body = hole[1:-1]
    return re.fullmatch(rb"[0-9A-Fa-f\s]*", body) is not None


def is_visible(field_dict: generic.DictionaryObject) -> bool:
    """A widget with a non-empty rectangle that is not flagged hidden/no-view."""

    def one(annot: generic.DictionaryObject) -> bool:
        try:
            x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
        except Exception:
            return False
        if abs(x2 - x1) * abs(y2 - y1) == 0:
            return False
        try:
            flags = int(annot["/F"]) if "/F" in annot else 0
        except Exception:
            flags = 0
        return not (flags & 2 or flags & 32)  # Hidden, NoView

    if "/Kids" not in field_dict:
        return one(field_dict)
    kids = field_dict["/Kids"]
    return one(field_dict) or any(
        isinstance(k.get_object(), generic.DictionaryObject) and one(k.get_object()) for k in kids
    )


def _msg(e: BaseException) -> str:
    if is_bad_offset(e):
        return BAD_OFFSET
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text[:200]}" if text else type(e).__name__

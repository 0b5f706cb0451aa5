"""Budgets that hold inside one piece of PDF work, whatever process runs it.

* decoded bytes: pdfminer inflates a whole stream with one ``zlib.decompress`` call,
  so a 1 MB file can ask for 1 GiB. :func:`decoded_budget` bounds every Flate decode
  pdfminer makes while it is active (in total, for the task) and stops at the cap
  without inflating further; pyHanko's own decoders are bounded by its decode limits.
* revisions and objects: :func:`check_structure` counts a pyHanko reader's
  cross-reference sections and entries, which it has already parsed (linear work),
  before anything that grows faster with them (difference analysis, page walks).

Time and memory are the pool's (:mod:`services.signing.pdfpool`): a task that runs
too long loses its worker process, which has an address-space limit.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from services.signing.errors import PdfOverBudget

_CHUNK = 1 << 20
_local = threading.local()


def _remaining() -> int | None:
    value: int | None = getattr(_local, "remaining", None)
    return value


def _charge(produced: int) -> None:
    remaining = _remaining()
    if remaining is None:
        return
    remaining -= produced
    _local.remaining = remaining
    if remaining < 0:
        cap = getattr(_local, "cap", 0)
        raise PdfOverBudget(
            "decoded bytes",
            f"the PDF's streams decode to more than {cap // (1024 * 1024)} MB "
            "(LIENTHONG_PDF_MAX_DECODED_MB); it was not read further",
        )


def bounded_decompress(data: bytes, *args: Any, **kwargs: Any) -> bytes:
    """``zlib.decompress`` that charges its output to the active budget as it goes."""
    remaining = _remaining()
    if remaining is None:
        return zlib.decompress(data, *args, **kwargs)
    squeeze = zlib.decompressobj(*args[1:2])
    parts: list[bytes] = []
    pending = data
    while True:
        part = squeeze.decompress(pending, _CHUNK)
        _charge(len(part))
        parts.append(part)
        pending = squeeze.unconsumed_tail
        if not pending:
            break
    if not squeeze.eof:
        tail = squeeze.flush()
        _charge(len(tail))
        parts.append(tail)
        if not squeeze.eof:
            raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
    return b"".join(parts)


class _BoundedDecompressor:
    """``zlib.decompressobj()`` whose output is charged to the active budget."""

    def __init__(self, *args: Any) -> None:
        self._inner = zlib.decompressobj(*args)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self._inner.decompress(data, max_length)
        _charge(len(out))
        return out

    def flush(self, *args: Any) -> bytes:
        out = self._inner.flush(*args)
        _charge(len(out))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _bounded_zlib() -> ModuleType:
    shim = ModuleType("zlib_bounded")
    shim.__dict__.update(zlib.__dict__)
    shim.decompress = bounded_decompress  # type: ignore[attr-defined]
    shim.decompressobj = _BoundedDecompressor  # type: ignore[attr-defined]
    return shim


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Route pdfminer's Flate decoding through the budget (idempotent; without an
    active :func:`decoded_budget` it decodes as before)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from pdfminer import pdftypes

        pdftypes.zlib = _bounded_zlib()
        _installed = True


@contextmanager
def decoded_budget(max_bytes: int) -> Iterator[None]:
    """Within the block (this thread), pdfminer decodes at most ``max_bytes`` in total."""
    install()
    before = (_remaining(), getattr(_local, "cap", None))
    _local.remaining, _local.cap = max_bytes, max_bytes
    try:
        yield
    finally:
        _local.remaining, _local.cap = before


def check_structure(reader: Any, *, max_revisions: int, max_objects: int) -> None:
    """Refuse a pyHanko reader's document with too many revisions or objects."""
    xrefs = reader.xrefs
    revisions = int(xrefs.total_revisions)
    if revisions > max_revisions:
        raise PdfOverBudget(
            "revisions",
            f"the PDF has {revisions} revisions (incremental updates); at most "
            f"{max_revisions} are read (LIENTHONG_PDF_MAX_REVISIONS)",
        )
    objects = 0
    for section in getattr(xrefs, "_xref_sections", ()):
        data = section.xref_data
        objects += len(data.standard_xrefs) + len(data.xrefs_in_objstm)
    if objects > max_objects:
        raise PdfOverBudget(
            "objects",
            f"the PDF has {objects} cross-reference entries; at most {max_objects} are "
            "read (LIENTHONG_PDF_MAX_OBJECTS)",
        )

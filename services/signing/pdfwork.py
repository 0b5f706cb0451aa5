"""The PDF work signing does on files it did not make, and where it runs.

The task functions (``page_facts``, ``page_text``, ``verify``) run inside a worker of
:class:`~.pdfpool.PdfPool`, under every budget; :class:`PooledReading` sends them
there. :class:`InProcessReading` runs the same functions in the calling process with
the budgets that do not need a process (decoded bytes, revisions, objects): for the
command line, which signs the operator's own files, and for tests.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from services.signing.appearance import Page
from services.signing.pdfinfo import DocumentFacts, signature_widgets
from services.signing.pdftext import is_scanned, read_page
from services.signing.settings import PdfLimits

if TYPE_CHECKING:
    from services.signing.pdfpool import PdfPool
    from services.signing.verification.engine import Verifier
    from services.signing.verification.model import VerificationReport


class PdfReading(Protocol):
    """What signing reads of the PDF it is about to sign."""

    def facts(self, path: Path, fingerprint: tuple[int, ...] = ()) -> DocumentFacts:
        """The page count, the signature widgets, and the fingerprints of the pages
        ``fingerprint`` names (negative: from the end)."""
        ...

    def page(self, path: Path, index: int, key: str | None = None) -> Page:
        """One page's text lines, to place the signature box. ``key``: the page's
        fingerprint from :meth:`facts`; a page read before under it is not read again."""
        ...

    def scanned(self, path: Path) -> bool:
        """Images only, no text layer: a scan of paper (for the e-document share)."""
        ...


# --- tasks (run in a worker) --------------------------------------------------------


def page_facts(path: str, limits: PdfLimits, fingerprint: tuple[int, ...] = ()) -> DocumentFacts:
    return signature_widgets(
        Path(path),
        max_revisions=limits.max_revisions,
        max_objects=limits.max_objects,
        fingerprint=fingerprint,
    )


def page_text(path: str, index: int, limits: PdfLimits) -> Page:
    return read_page(Path(path), index, max_decoded_bytes=limits.max_decoded_bytes)


def text_layer(path: str, limits: PdfLimits) -> bool:
    """True when the document is a scan (``pdftext.is_scanned``)."""
    return is_scanned(Path(path), max_decoded_bytes=limits.max_decoded_bytes)


_VERIFIERS: dict[str, Verifier] = {}


def config_key(config: dict[str, Any]) -> str:
    return hashlib.sha256(pickle.dumps(sorted(config.items()))).hexdigest()


def verify(
    key: str, config: dict[str, Any], payload: str | bytes, now: datetime | None, name: str | None
) -> VerificationReport:
    """Verify with the worker's verifier for ``config`` (built once per configuration)."""
    from services.signing.verification.engine import Verifier

    verifier = _VERIFIERS.get(key)
    if verifier is None:
        if len(_VERIFIERS) >= 4:  # trust anchors changed: the old ones are not needed
            _VERIFIERS.clear()
        verifier = _VERIFIERS[key] = Verifier(**config)
    return verifier.verify(payload, now=now, file_name=name, timeout=None)


# --- where the work runs ------------------------------------------------------------


class PageCache:
    """Pages' text lines by fingerprint, the most recent ``size``. A document is read
    twice in its life here (the leader's signature, then the seal over it) and its
    pages' text does not change in between: the seal's placement needs no second read."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[str, int], Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, index: int) -> Page | None:
        with self._lock:
            page = self._pages.get((key, index))
            if page is not None:
                self._pages.move_to_end((key, index))
            return page

    def put(self, key: str, page: Page) -> None:
        with self._lock:
            self._pages[(key, page.index)] = page
            self._pages.move_to_end((key, page.index))
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


class _CachedPages:
    cache: PageCache

    def page(self, path: Path, index: int, key: str | None = None) -> Page:
        page = self.cache.get(key, index) if key else None
        if page is None:
            page = self._read_page(path, index)
            if key:
                self.cache.put(key, page)
        return page

    def _read_page(self, path: Path, index: int) -> Page:
        raise NotImplementedError


class InProcessReading(_CachedPages):
    """The tasks in this process: decoded-bytes, revision and object budgets only."""

    def __init__(self, limits: PdfLimits | None = None, cache: PageCache | None = None) -> None:
        self.limits = limits or PdfLimits()
        self.cache = cache or PageCache()

    def facts(self, path: Path, fingerprint: tuple[int, ...] = ()) -> DocumentFacts:
        return page_facts(str(path), self.limits, fingerprint)

    def _read_page(self, path: Path, index: int) -> Page:
        return page_text(str(path), index, self.limits)

    def scanned(self, path: Path) -> bool:
        return text_layer(str(path), self.limits)


class PooledReading(_CachedPages):
    """The tasks on the PDF pool: every budget, time and memory included."""

    def __init__(self, pool: PdfPool, cache: PageCache | None = None) -> None:
        self.pool = pool
        self.cache = cache or PageCache()

    def facts(self, path: Path, fingerprint: tuple[int, ...] = ()) -> DocumentFacts:
        result: DocumentFacts = self.pool.run(
            f"{__name__}:page_facts", str(path), self.pool.limits, fingerprint
        )
        return result

    def _read_page(self, path: Path, index: int) -> Page:
        result: Page = self.pool.run(f"{__name__}:page_text", str(path), index, self.pool.limits)
        return result

    def scanned(self, path: Path) -> bool:
        result: bool = self.pool.run(f"{__name__}:text_layer", str(path), self.pool.limits)
        return result

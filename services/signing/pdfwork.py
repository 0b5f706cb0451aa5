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
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from services.signing.appearance import Page
from services.signing.pdfinfo import SignatureWidget, signature_widgets
from services.signing.pdftext import is_scanned, read_page
from services.signing.settings import PdfLimits

if TYPE_CHECKING:
    from services.signing.pdfpool import PdfPool
    from services.signing.verification.engine import Verifier
    from services.signing.verification.model import VerificationReport

PageFacts = tuple[int, list[SignatureWidget]]


class PdfReading(Protocol):
    """What signing reads of the PDF it is about to sign."""

    def facts(self, path: Path) -> PageFacts:
        """The page count and the signature widgets."""
        ...

    def page(self, path: Path, index: int) -> Page:
        """One page's text lines, to place the signature box."""
        ...

    def scanned(self, path: Path) -> bool:
        """Images only, no text layer: a scan of paper (for the e-document share)."""
        ...


# --- tasks (run in a worker) --------------------------------------------------------


def page_facts(path: str, limits: PdfLimits) -> PageFacts:
    return signature_widgets(
        Path(path), max_revisions=limits.max_revisions, max_objects=limits.max_objects
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


class InProcessReading:
    """The tasks in this process: decoded-bytes, revision and object budgets only."""

    def __init__(self, limits: PdfLimits | None = None) -> None:
        self.limits = limits or PdfLimits()

    def facts(self, path: Path) -> PageFacts:
        return page_facts(str(path), self.limits)

    def page(self, path: Path, index: int) -> Page:
        return page_text(str(path), index, self.limits)

    def scanned(self, path: Path) -> bool:
        return text_layer(str(path), self.limits)


class PooledReading:
    """The tasks on the PDF pool: every budget, time and memory included."""

    def __init__(self, pool: PdfPool) -> None:
        self.pool = pool

    def facts(self, path: Path) -> PageFacts:
        result: PageFacts = self.pool.run(f"{__name__}:page_facts", str(path), self.pool.limits)
        return result

    def page(self, path: Path, index: int) -> Page:
        result: Page = self.pool.run(f"{__name__}:page_text", str(path), index, self.pool.limits)
        return result

    def scanned(self, path: Path) -> bool:
        result: bool = self.pool.run(f"{__name__}:text_layer", str(path), self.pool.limits)
        return result

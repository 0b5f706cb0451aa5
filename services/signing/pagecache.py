"""Pages' text lines kept for the file a signature produced.

A document is read twice here in its life: for the leader's signature, then for the
seal over it. The seal's file is the signed output byte for byte, and our signature
changed no page content (a field, its widget and appearance; the validation data),
so the text read for the signature is the text of that output: kept under the
output's SHA-256, the seal needs no second read. Any other change to the file gives
another digest, and the page is read afresh."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import IO

from services.signing.appearance import Page


class PageCache:
    """Text lines by (file digest, page index), the most recent ``size``."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[str, int], Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, index: int) -> Page | None:
        with self._lock:
            page = self._pages.get((digest, index))
            if page is not None:
                self._pages.move_to_end((digest, index))
            return page

    def put(self, digest: str, page: Page) -> None:
        with self._lock:
            self._pages[(digest, page.index)] = page
            self._pages.move_to_end((digest, page.index))
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def output_digest(output: IO[bytes]) -> str | None:
    """The SHA-256 of everything written to ``output``; None when it cannot be read
    back (a pipe, a file opened for writing only)."""
    try:
        if not (output.readable() and output.seekable()):
            return None
        end = output.tell()
        output.seek(0)
        digest = hashlib.sha256()
        while chunk := output.read(1 << 20):
            digest.update(chunk)
        output.seek(end)
        return digest.hexdigest()
    except (OSError, ValueError):
        return None

"""What the verifier learns from the raw input before parsing it: size, digest,
whether a signature value appears anywhere, and the file's name."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: What :meth:`~.engine.Verifier.verify` reads: a path, the bytes, or a binary file object.
PdfSource = str | os.PathLike[str] | bytes | IO[bytes]

_SIG_MARK = b"/ByteRange"


@dataclass(frozen=True)
class _Facts:
    size: int
    sha256: str
    mentions_signature: bool


def _scan(fh: IO[bytes]) -> _Facts:
    """Size, SHA-256 and whether a signature value appears in the raw bytes, in one pass
    of 1 MiB chunks (memory stays flat for large files)."""
    fh.seek(0)
    h = hashlib.sha256()
    size = 0
    seen = False
    tail = b""
    while chunk := fh.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
        if not seen:
            seen = _SIG_MARK in tail + chunk
            tail = chunk[-len(_SIG_MARK) :]
    fh.seek(0)
    return _Facts(size, h.hexdigest(), seen)


def _name_of(source: PdfSource) -> str | None:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    name = getattr(source, "name", None)
    return Path(name).name if isinstance(name, str) else None

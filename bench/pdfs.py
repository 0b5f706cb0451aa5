"""Valid PDFs of any size: a real PDF plus an incremental update holding random bytes.

The update appends one stream object (``/Length`` = the padding) and a classic
cross-reference section whose ``/Prev`` points at the original one, so every PDF
reader still finds the original catalog and pages. The file is written in
chunks and hashed on the way, so a 200 MB PDF never sits in memory.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1024 * 1024
NONCE_BYTES = 16


@dataclass(frozen=True)
class PaddedPdf:
    path: Path
    sha256: str
    size: int
    data_offset: int
    """Where the random stream data starts: a nonce written there keeps the file valid."""


@dataclass(frozen=True)
class _Source:
    data: bytes
    startxref: int
    size: int
    trailer_refs: str


_TRAILER = re.compile(rb"trailer\s*<<(.*?)>>\s*startxref", re.S)


def _source(path: Path) -> _Source:
    data = path.read_bytes()
    found = re.findall(rb"startxref\s+(\d+)\s+%%EOF", data[-2048:])
    if not found:
        raise ValueError(f"{path}: no startxref at the end")
    startxref = int(found[-1])
    if not data[startxref : startxref + 4] == b"xref":
        raise ValueError(f"{path}: needs a classic cross-reference table (not an xref stream)")
    trailers = _TRAILER.findall(data)
    if not trailers:
        raise ValueError(f"{path}: no trailer dictionary")
    trailer = trailers[-1]
    size = re.search(rb"/Size\s+(\d+)", trailer)
    root = re.search(rb"/Root\s+\d+\s+\d+\s+R", trailer)
    if size is None or root is None:
        raise ValueError(f"{path}: the trailer lacks /Size or /Root")
    refs = [root.group(0)]
    info = re.search(rb"/Info\s+\d+\s+\d+\s+R", trailer)
    if info:
        refs.append(info.group(0))
    ident = re.search(rb"/ID\s*\[[^\]]*\]", trailer)
    if ident:
        refs.append(ident.group(0))
    return _Source(data, startxref, int(size.group(1)), " ".join(r.decode("latin-1") for r in refs))


def _pieces(src: _Source, padding: int) -> tuple[bytes, bytes]:
    """Head (original + object header), and the tail after the random data."""
    head = src.data if src.data.endswith((b"\n", b"\r")) else src.data + b"\n"
    obj = src.size
    obj_offset = len(head)
    head += f"{obj} 0 obj\n<< /Length {padding} >>\nstream\n".encode()
    end = b"\nendstream\nendobj\n"
    xref_offset = len(head) + padding + len(end)
    tail = (
        end
        + (
            f"xref\n0 1\n0000000000 65535 f \n{obj} 1\n{obj_offset:010d} 00000 n \n"
            f"trailer\n<< /Size {obj + 1} {src.trailer_refs} /Prev {src.startxref} >>\n"
            f"startxref\n{xref_offset}\n%%EOF\n"
        ).encode()
    )
    return head, tail


def _padding_for(src: _Source, total: int) -> int:
    padding = max(total - len(src.data), 0)
    for _ in range(5):  # the tail's length depends on the digits of the offsets
        head, tail = _pieces(src, padding)
        overhead = len(head) + len(tail)
        wanted = max(total - overhead, 0)
        if wanted == padding:
            break
        padding = wanted
    return padding


def write_padded_pdf(source: Path, target: Path, total_size: int) -> PaddedPdf:
    """Write a valid PDF of (about) ``total_size`` bytes, streaming random padding."""
    src = _source(source)
    padding = _padding_for(src, total_size)
    head, tail = _pieces(src, padding)
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        out.write(head)
        digest.update(head)
        left = padding
        while left:
            chunk = os.urandom(min(CHUNK, left))
            out.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
        out.write(tail)
        digest.update(tail)
    size = len(head) + padding + len(tail)
    return PaddedPdf(target, digest.hexdigest(), size, data_offset=len(head))


def page_count(path: Path) -> int:
    """Read the PDF the way ingest does (pyhanko, cross-reference data only)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    with path.open("rb") as f:
        reader = PdfFileReader(f, strict=True)
        return int(reader.root["/Pages"]["/Count"])


class Variants:
    """Distinct copies of one padded PDF: each has its own nonce in the random data,
    so every upload has a new SHA-256 (the store deduplicates identical bytes)."""

    def __init__(self, pdf: PaddedPdf) -> None:
        self.template = pdf.path.read_bytes()
        self.offset = pdf.data_offset
        self.prefix = os.urandom(NONCE_BYTES - 8)
        self.count = 0

    def next(self) -> bytes:
        self.count += 1
        data = bytearray(self.template)
        nonce = self.prefix + self.count.to_bytes(8, "big")
        data[self.offset : self.offset + NONCE_BYTES] = nonce
        return bytes(data)

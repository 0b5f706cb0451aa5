"""Hostile PDFs made by hand (zlib and byte strings), for the budget tests.

- :func:`content_bomb`: one page whose content stream is small on disk and inflates
  to ``inflated_mib`` MiB of drawing operators;
- :func:`with_empty_updates`: a PDF followed by ``count`` empty incremental updates
  (each a trailer whose ``/Prev`` points at the one before);
- :func:`lying_count`: one real page, and a page tree claiming ``count`` pages;
- :func:`deep_page_tree`: a page tree nested ``depth`` levels deep;
- :func:`deep_array`: a page whose ``/MediaBox`` hides an array nested ``depth`` deep.
"""

from __future__ import annotations

import re
import zlib

from testkit.pdfs import write_pdf

_OPS = b"0 0 m 100 100 l S BT /F1 12 Tf 72 700 Td (bomb) Tj ET\n"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def simple_page(text: bytes = b"Hello", *, count: int = 1, page_extra: bytes = b"") -> bytes:
    """One page of text; ``count`` is what the page tree claims."""
    content = b"BT /F1 12 Tf 72 700 Td (" + text + b") Tj ET\n"
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % count,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >>" + page_extra + b" >>",
            _stream(content),
            _FONT,
        ]
    )


def deflated_ops(inflated_mib: int) -> bytes:
    """``inflated_mib`` MiB of drawing operators, deflated (about 1 KB per MiB)."""
    block = _OPS * (1024 * 1024 // len(_OPS) + 1)
    block = block[: 1024 * 1024]
    squeeze = zlib.compressobj(9)
    parts = [squeeze.compress(block) for _ in range(inflated_mib)]
    parts.append(squeeze.flush())
    return b"".join(parts)


def content_bomb(inflated_mib: int = 1024) -> bytes:
    """One page whose content stream inflates to ``inflated_mib`` MiB."""
    packed = deflated_ops(inflated_mib)
    return write_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(packed, b" /Filter /FlateDecode"),
            _FONT,
        ]
    )


def lying_count(count: int = 2**31) -> bytes:
    """One page, in a page tree whose /Count claims ``count``."""
    return simple_page(count=count)


def deep_page_tree(depth: int = 5000) -> bytes:
    """A page tree ``depth`` intermediate nodes deep above its one page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = 2 + level
        objects.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (number + 1))
    page = 2 + depth
    objects.append(
        b"<< /Type /Page /MediaBox [0 0 595 842] /Contents %d 0 R"
        b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (page + 1, page + 2)
    )
    objects.append(_stream(b"BT /F1 12 Tf 72 700 Td (deep) Tj ET\n"))
    objects.append(_FONT)
    return write_pdf(objects)


def deep_array(depth: int = 100_000) -> bytes:
    """A page with an array nested ``depth`` deep in its dictionary."""
    nested = b"[" * depth + b"]" * depth
    return simple_page(page_extra=b" /X " + nested)


_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")


def with_empty_updates(pdf: bytes, count: int) -> bytes:
    """``pdf`` followed by ``count`` empty incremental updates (classic xref sections)."""
    found = _STARTXREF.search(pdf[-64:])
    if found is None:
        raise ValueError("no startxref at the end of the file")
    trailer_at = pdf.rfind(b"trailer")
    trailer = pdf[trailer_at : pdf.rfind(b"startxref")]
    size = re.search(rb"/Size\s+(\d+)", trailer)
    root = re.search(rb"/Root\s+(\d+\s+\d+\s+R)", trailer)
    if size is None or root is None:
        raise ValueError("the last trailer has no /Size or /Root")
    info = re.search(rb"/Info\s+(\d+\s+\d+\s+R)", trailer)
    ident = re.search(rb"/ID\s*(\[[^\]]*\])", trailer)
    extra = b""
    if info:
        extra += b" /Info " + info.group(1)
    if ident:
        extra += b" /ID " + ident.group(1)
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    prev = int(found.group(1))
    for _ in range(count):
        at = len(out)
        out += b"xref\n0 0\ntrailer\n<< /Size %s /Root %s /Prev %d%s >>\n" % (
            size.group(1),
            root.group(1),
            prev,
            extra,
        )
        out += b"startxref\n%d\n%%%%EOF\n" % at
        prev = at
    return bytes(out)


def allocate(megabytes: int) -> int:
    """A task for a PDF worker (this module is light to import): hold ``megabytes`` MB."""
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)

"""Hostile inputs, as bytes, for the abuse suite (tests/abuse) and the attack bench.

PDFs written by hand (no library to smooth over what an attacker would write): a page
whose content stream inflates to a gibibyte from about a megabyte, nesting 10,000 deep,
page counts that lie, thousands of empty incremental updates, broken cross-reference
tables and an object-stream bomb. Raw HTTP requests that lie about their size, carry
both framings, stall or are too large; JSON that is too deep, not finite, not valid
UTF-8 or has NULs. Nothing here touches the network but :func:`raw_exchange`.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from testkit.pdfs import write_pdf

MiB = 1024 * 1024
GiB = 1024 * MiB
ADLER_MOD = 65521

# --- the limits the abuse suite and the attack bench hold the services to ---------------
# ONE place for the settings both pass to the services, so that their names can follow
# the services' own (README's Settings table) and their values stay the same in both.
PDF_TIMEOUT_SECONDS = 10.0  # the budget of any one piece of work on an untrusted PDF
ABUSE_ENV = {
    "LIENTHONG_PDF_WORKERS": "2",  # a pool: one slow document cannot delay the others
    "LIENTHONG_PDF_TIMEOUT_SECONDS": str(int(PDF_TIMEOUT_SECONDS)),
    "LIENTHONG_PDF_MEMORY_MB": "512",  # address-space limit of one PDF worker
    "LIENTHONG_PDF_MAX_DECODED_MB": "64",  # decoded stream bytes per document
    "LIENTHONG_PDF_MAX_REVISIONS": "1000",  # incremental updates a verifier will walk
    "LIENTHONG_TSA_ACCESS": "token",  # open | token | agencies: who may ask for a stamp
    "LIENTHONG_API_KEY_CACHE_SECONDS": "0",  # a revoked key is refused at once
}
# A request on untrusted input answers within its budget plus this much.
GRACE_SECONDS = 1.0
# Every service process (the `serve` process, and each of its worker processes) stays
# under this resident size during the whole attack.
RSS_LIMIT_MIB = 600
# A request that does no PDF work (refusals, metadata, status, headers) answers within:
PLAIN_BUDGET_SECONDS = 5.0

# --- writing a PDF by hand ------------------------------------------------------------


def _stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _page_objects(contents: bytes, *, count: bytes = b"1", page_extra: bytes = b"") -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count " + count + b" >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R" + page_extra + b" >>",
        contents,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def plain_pdf(text: str = "Lien Thong abuse test") -> bytes:
    """A normal one-page PDF, with its text in an uncompressed content stream."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    return write_pdf(_page_objects(_stream(b"", stream)))


# --- a deflate stream of a repeated chunk, without compressing all of it --------------


def _adler_parts(data: bytes) -> tuple[int, int]:
    value = zlib.adler32(data)
    return value & 0xFFFF, value >> 16


def _adler_repeat(chunk: bytes, times: int) -> int:
    """Adler-32 of ``chunk * times`` by doubling (adler32_combine), in O(log times)."""

    def combine(x: tuple[int, int], y: tuple[int, int], y_len: int) -> tuple[int, int]:
        a = (x[0] + y[0] - 1) % ADLER_MOD
        b = (x[1] + y[1] + (y_len % ADLER_MOD) * (x[0] - 1)) % ADLER_MOD
        return a, b

    result, result_len = (1, 0), 0  # the Adler-32 of nothing
    power, power_len = _adler_parts(chunk), len(chunk)
    while times:
        if times & 1:
            result = combine(result, power, power_len)
            result_len += power_len
        power = combine(power, power, power_len)
        power_len *= 2
        times >>= 1
    return (result[1] << 16) | result[0]


def repeated_deflate(chunk: bytes, times: int, prefix: bytes = b"") -> bytes:
    """A zlib stream that inflates to ``prefix + chunk * times``. After a full flush the
    compressor starts afresh, so every later chunk compresses to the same bytes: only two
    chunks are compressed, whatever ``times`` is, and the checksum is combined, not summed
    over the data. ``prefix`` (at most 65,535 bytes) goes first as a stored block."""
    if times < 2:
        return zlib.compress(prefix + chunk * times, 9)
    compressor = zlib.compressobj(9)
    opening = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    header, first = opening[:2], opening[2:]  # the 2-byte zlib header, then the blocks
    steady = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    stored = b""
    if prefix:  # BFINAL=0, BTYPE=00 (byte-aligned), LEN and NLEN little-endian
        stored = b"\x00" + struct.pack("<HH", len(prefix), len(prefix) ^ 0xFFFF) + prefix
    prefix_adler = _adler_parts(prefix)
    body_adler = _adler_repeat(chunk, times)
    a1, b1 = prefix_adler
    a2, b2 = body_adler & 0xFFFF, body_adler >> 16
    body_len = len(chunk) * times
    a = (a1 + a2 - 1) % ADLER_MOD
    b = (b1 + b2 + (body_len % ADLER_MOD) * (a1 - 1)) % ADLER_MOD
    # A final empty fixed-Huffman block (BFINAL=1, BTYPE=01, end-of-block), then Adler-32.
    end = b"\x03\x00" + struct.pack(">I", (b << 16) | a)
    return header + stored + first + steady * (times - 1) + end


# Operators that make a content parser work (save/restore, a path, a text object).
BUSY_CONTENT = b"q 1 0 0 1 0 0 cm 0 0 m 1 1 l S Q BT /F1 1 Tf (x) Tj ET\n"


def _chunk_of(pattern: bytes, size: int = MiB) -> bytes:
    return pattern * max(1, size // len(pattern))


def content_bomb_pdf(inflated: int = GiB, pattern: bytes = BUSY_CONTENT) -> bytes:
    """One page whose content stream (FlateDecode) inflates to about ``inflated`` bytes
    of drawing operators; the file itself is about a thousandth of that."""
    chunk = _chunk_of(pattern)
    data = repeated_deflate(chunk, max(1, inflated // len(chunk)))
    return write_pdf(_page_objects(_stream(b"/Filter /FlateDecode", data)))


def objstm_bomb_pdf(inflated: int = GiB) -> bytes:
    """The page tree lives in an object stream whose data inflates to ``inflated`` bytes
    (the objects' text, then whitespace); a cross-reference stream points into it, so
    reading the page count means inflating it."""
    members = [
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    offsets, text = [], b""
    for obj in members:
        offsets.append(len(text))
        text += obj + b" "
    index = b"2 %d 3 %d " % (offsets[0], offsets[1])
    pad = _chunk_of(b" " * 64)
    data = repeated_deflate(pad, max(2, inflated // len(pad)), prefix=index + text)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    at: dict[int, int] = {}

    def add(number: int, obj: bytes) -> None:
        at[number] = len(out)
        out.extend(b"%d 0 obj\n" % number + obj + b"\nendobj\n")

    add(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    add(4, _stream(b"/Type /ObjStm /N 2 /First %d /Filter /FlateDecode" % len(index), data))
    xref_at = len(out)
    rows = [(0, 0, 65535), (1, at[1], 0), (2, 4, 0), (2, 4, 1), (1, at[4], 0), (1, xref_at, 0)]
    table = b"".join(struct.pack(">BIH", t, a, b) for t, a, b in rows)
    add(5, _stream(b"/Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R", table))
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(out)


def deep_nesting_pdf(depth: int = 10_000, kind: str = "array") -> bytes:
    """A page dictionary carrying a value nested ``depth`` deep (arrays or dictionaries)."""
    if kind == "array":
        value = b"[" * depth + b"0" + b"]" * depth
    elif kind == "dict":
        value = b"<< /A " * depth + b"0" + b" >>" * depth
    else:
        raise ValueError(f"kind is array or dict, not {kind!r}")
    text = _stream(b"", b"BT /F1 18 Tf 72 720 Td (deep) Tj ET")
    return write_pdf(_page_objects(text, page_extra=b" /Deep " + value))


def deep_page_tree_pdf(depth: int = 10_000) -> bytes:
    """A page tree ``depth`` levels of /Pages deep before its one page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        parent = b"" if level == 0 else b" /Parent %d 0 R" % (level + 1)
        objects.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1%s >>" % (level + 3, parent))
    page = len(objects) + 1
    objects.append(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>"
        % (page - 1, page + 1)
    )
    objects.append(_stream(b"", b"BT /F1 18 Tf 72 720 Td (tree) Tj ET"))
    return write_pdf(objects)


HUGE_COUNTS = {"count-2^63": 9223372036854775808, "count-2^31": 2**31}


def huge_count_pdf(count: int) -> bytes:
    """One real page under a /Pages node that claims ``count`` pages."""
    text = _stream(b"", b"BT /F1 18 Tf 72 720 Td (one page) Tj ET")
    return write_pdf(_page_objects(text, count=str(count).encode()))


def _last_trailer(pdf: bytes) -> tuple[int, bytes, int]:
    """(the last startxref offset, the Root reference, /Size) of a classic or xref-stream
    PDF, read from the last cross-reference section."""
    found = list(re.finditer(rb"startxref\s+(\d+)", pdf))
    if not found:
        raise ValueError("no startxref")
    prev = int(found[-1].group(1))
    section = pdf[prev:]
    root = re.search(rb"/Root\s+(\d+\s+\d+\s+R)", section)
    size = re.search(rb"/Size\s+(\d+)", section)
    if root is None or size is None:
        raise ValueError("the last cross-reference section names no /Root or /Size")
    return prev, root.group(1), int(size.group(1))


def empty_updates(pdf: bytes, count: int = 2_500) -> bytes:
    """``pdf`` followed by ``count`` empty incremental updates: each a cross-reference
    section with no entry but object 0's, and a trailer whose /Prev is the previous one.
    On a signed PDF this is what a verifier must walk revision by revision."""
    prev, root, size = _last_trailer(pdf)
    out = bytearray(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    for _ in range(count):
        here = len(out)
        out += b"xref\n0 1\n0000000000 65535 f \n"
        out += b"trailer\n<< /Size %d /Root %s /Prev %d >>\n" % (size, root, prev)
        out += b"startxref\n%d\n%%%%EOF\n" % here
        prev = here
    return bytes(out)


def broken_xref_pdfs() -> dict[str, bytes]:
    """A normal page, with its cross-reference data broken in the ways files break."""
    good = plain_pdf("broken xref")
    xref = good.rindex(b"\nxref\n") + 1
    startxref = good.rindex(b"startxref\n")
    table_end = good.index(b"trailer", xref)
    shifted = re.sub(
        rb"(\d{10}) 00000 n",
        lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7),
        good[xref:table_end],
    )
    return {
        "startxref-past-end": good[:startxref] + b"startxref\n99999999\n%%EOF\n",
        "startxref-negative": good[:startxref] + b"startxref\n-5\n%%EOF\n",
        "startxref-garbage": good[:startxref] + b"startxref\nABCDEF\n%%EOF\n",
        "offsets-shifted": good[:xref] + shifted + good[table_end:],
        "table-claims-more": good.replace(b"xref\n0 6\n", b"xref\n0 4000000000\n"),
        "table-truncated": good[: xref + 40],
        "no-xref-no-trailer": good[:xref],
        "prev-loop": good.replace(b"/Root 1 0 R >>", b"/Root 1 0 R /Prev %d >>" % xref),
        "huge-size": good.replace(b"/Size 6", b"/Size 9223372036854775807"),
        "object-number-huge": good.replace(b"xref\n0 6\n", b"xref\n0 1\n")
        .replace(b"0000000000 65535 f \n", b"0000000000 65535 f \n99999999999999999999 1\n")
        .replace(b"/Root 1 0 R", b"/Root 99999999999999999999 0 R"),
    }


def hostile_pdfs(bomb_bytes: int = GiB) -> dict[str, bytes]:
    """Every hostile PDF by name (the bombs inflate to ``bomb_bytes``)."""
    return {
        "content-bomb": content_bomb_pdf(bomb_bytes),
        "objstm-bomb": objstm_bomb_pdf(bomb_bytes),
        "nested-arrays": deep_nesting_pdf(10_000, "array"),
        "nested-dicts": deep_nesting_pdf(10_000, "dict"),
        "deep-page-tree": deep_page_tree_pdf(10_000),
        **{name: huge_count_pdf(n) for name, n in HUGE_COUNTS.items()},
        **{f"xref-{name}": pdf for name, pdf in broken_xref_pdfs().items()},
    }


# --- JSON -----------------------------------------------------------------------------


def nested_json(depth: int = 10_000, kind: str = "list") -> str:
    """A JSON text nested ``depth`` deep (json.dumps itself would hit the recursion limit)."""
    if kind == "list":
        return "[" * depth + "0" + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


def json_with(document: dict[str, object], path: Sequence[str], raw_value: str) -> str:
    """``document`` as JSON with the value at ``path`` replaced by ``raw_value`` verbatim:
    for what json.dumps will not write (a lone surrogate, Infinity, 10,000 levels)."""
    import json

    marker = "\u2603MARKER\u2603"
    target: dict[str, object] = document
    for key in path[:-1]:
        child = target[key]
        if not isinstance(child, dict):
            raise TypeError(f"{key} is not an object")
        target = child
    target[path[-1]] = marker
    return json.dumps(document, ensure_ascii=False).replace(f'"{marker}"', raw_value)


LONE_SURROGATE = '"\\ud800"'
NUL_IN_TEXT = '"15\\u0000"'
NOT_FINITE = ("Infinity", "-Infinity", "NaN", "1e999")


# --- raw HTTP -------------------------------------------------------------------------


@dataclass(frozen=True)
class RawAnswer:
    status: int | None  # None: the server closed or said nothing within the budget
    head: bytes
    seconds: float
    body_bytes_sent: int


def request_head(
    method: str, path: str, host: str, headers: dict[str, str] | Sequence[tuple[str, str]]
) -> bytes:
    items = headers.items() if isinstance(headers, dict) else headers
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def raw_exchange(
    port: int,
    head: bytes,
    body: bytes | None = None,
    *,
    body_size: int = 0,
    chunk: int = 64 * 1024,
    stall_after: int | None = None,
    budget: float = 10.0,
) -> RawAnswer:
    """Send ``head`` then ``body`` (or ``body_size`` filler bytes, made as they go), and
    read the status line. Stops sending as soon as the server answers, closes or stops
    reading; with ``stall_after``, stops sending after that many body bytes and waits.
    Never waits longer than ``budget`` seconds in all."""
    started = time.monotonic()
    deadline = started + budget
    sent = 0
    received = b""
    total = len(body) if body is not None else body_size
    limit = total if stall_after is None else min(total, stall_after)
    filler = b"x" * chunk
    with socket.create_connection(("127.0.0.1", port), timeout=budget) as conn:
        conn.sendall(head)
        conn.setblocking(False)
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            try:
                data = conn.recv(65536)
                if not data:
                    break
                received += data
                if b"\r\n\r\n" in received:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            if sent < limit:
                piece = body[sent : sent + chunk] if body is not None else filler
                piece = piece[: limit - sent]
                try:
                    sent += conn.send(piece)
                except BlockingIOError:
                    time.sleep(0.005)
                except OSError:  # the server stopped reading: its answer may be waiting
                    limit = sent
            else:
                time.sleep(0.01)
    match = re.match(rb"HTTP/1\.[01] (\d{3})", received)
    return RawAnswer(
        status=int(match.group(1)) if match else None,
        head=received.split(b"\r\n\r\n", 1)[0],
        seconds=time.monotonic() - started,
        body_bytes_sent=sent,
    )


def stalled_connection(port: int, head: bytes, first_bytes: bytes = b"") -> socket.socket:
    """Open a connection, send the head (and a few body bytes) and leave it hanging: the
    caller closes it. A slow-loris client."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(head + first_bytes)
    return conn


def multipart(
    fields: Sequence[tuple[str, str | None, bytes, str | None]], boundary: str = "lt-abuse-b0undary"
) -> tuple[bytes, str]:
    """A multipart/form-data body from (name, filename, data, content type) parts."""
    out = bytearray()
    for name, filename, data, ctype in fields:
        out += f"--{boundary}\r\n".encode()
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"Content-Disposition: {disposition}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# --- watching the services' memory ----------------------------------------------------


class RssWatch:
    """Samples the resident size of each named process and of each of its descendants
    every ``interval`` seconds on a thread, keeping every process's peak. A peak is
    per process: a service's `serve` process and each of its worker processes."""

    def __init__(self, pids: dict[str, int], interval: float = 0.05) -> None:
        import threading

        self.pids = pids
        self.interval = interval
        self.peaks: dict[str, int] = {}  # "signing" or "signing/child-1234" -> bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-watch", daemon=True)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self) -> None:
        import psutil

        for name, pid in self.pids.items():
            try:
                root = psutil.Process(pid)
                members = [(name, root)] + [
                    (f"{name}/child-{c.pid}", c) for c in root.children(recursive=True)
                ]
            except psutil.Error:
                continue
            for label, proc in members:
                try:
                    rss = int(proc.memory_info().rss)
                except psutil.Error:
                    continue
                if rss > self.peaks.get(label, 0):
                    self.peaks[label] = rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def reset(self) -> None:
        self.peaks = {}

    def over(self, limit_mib: int = RSS_LIMIT_MIB) -> dict[str, float]:
        """The processes whose peak went over ``limit_mib``, with their peak in MiB."""
        return {k: round(v / MiB, 1) for k, v in self.peaks.items() if v > limit_mib * MiB}

    def peak_mib(self, service: str) -> float:
        """The highest peak among ``service`` and its worker processes, in MiB."""
        found = [v for k, v in self.peaks.items() if k == service or k.startswith(service + "/")]
        return round(max(found, default=0) / MiB, 1)

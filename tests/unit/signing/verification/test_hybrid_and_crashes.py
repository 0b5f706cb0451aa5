"""Hybrid-reference files (a classic cross-reference table plus an /XRefStm, as Word and
Acrobat write them) and the inputs that used to crash the verifier: a digest algorithm
named by an OID nothing maps, negative offsets (seek() fails with EINVAL on a file), and
a fuzz over variants of a signed document, each of which must get a clean verdict with
a reason, never an exception."""

from __future__ import annotations

import io
import random
import re
import struct
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers

from services.common.contract import Verdict
from services.signing.verification import Verifier
from tests.unit.signing.verification.helpers import (
    ThrowawayPki,
    add_document_timestamp,
    minimal_pdf,
    sign,
)

#: what a reason must never look like: an exception leaking through
CRASH = re.compile(
    r"Errno|AttributeError|has no attribute|internal error|negative seek|Traceback|"
    r"hybrid-reference files"
)
SHA256_OID_HEX = b"0609608648016503040201"  # DER of 2.16.840.1.101.3.4.2.1
UNKNOWN_OID_HEX = b"060960864801650304027f"  # 2.16.840.1.101.3.4.2.127: no such digest
UNKNOWN_OID = "2.16.840.1.101.3.4.2.127"


# ---------------------------------------------------------------- building inputs


def _xref_stream(
    num: int, entries: list[tuple[int, int, int]], size: int, index: list[int]
) -> bytes:
    data = b"".join(struct.pack(">BIH", *e) for e in entries)
    head = (
        f"{num} 0 obj\n<< /Type /XRef /Size {size} /W [1 4 2] "
        f"/Index [{' '.join(map(str, index))}] /Length {len(data)} >>\nstream\n"
    ).encode()
    return head + data + b"\nendstream\nendobj\n"


def hybrid_pdf(text: str = "Hello, hybrid") -> bytes:
    """A hybrid-reference file as Word writes it: the font sits in an object stream
    that only the /XRefStm lists; the classic table marks it free."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    content = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    bodies = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    }
    offsets: dict[int, int] = {}
    for num, body in bodies.items():
        offsets[num] = out.tell()
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    header = b"5 0 "
    objstm = header + b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    offsets[6] = out.tell()
    out.write(
        b"6 0 obj\n<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n"
        % (len(header), len(objstm))
        + objstm
        + b"\nendstream\nendobj\n"
    )
    offsets[7] = out.tell()
    out.write(_xref_stream(7, [(2, 6, 0), (1, offsets[7], 0)], 8, [5, 1, 7, 1]))
    xref = out.tell()
    out.write(b"xref\n0 8\n0000000000 65535 f \n")
    for num in range(1, 8):
        line = "0000000000 65535 f \n" if num == 5 else f"{offsets[num]:010d} 00000 n \n"
        out.write(line.encode())
    out.write(
        f"trailer\n<< /Size 8 /Root 1 0 R /XRefStm {offsets[7]} >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def sign_hybrid(pdf: bytes, pki: ThrowawayPki) -> bytes:
    # pyHanko's strict writer refuses hybrid input, as its strict validator did
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name="Sig1", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=pki.simple_signer()).sign_pdf(writer, output=out)
    return out.getvalue()


def hybrid_update(pdf: bytes, redefine: tuple[int, bytes] | None = None) -> bytes:
    """An incremental update made of an empty classic table whose trailer's /XRefStm
    points at a cross-reference stream. With ``redefine``, that object is rewritten and
    listed in the stream only: hidden from a reader that ignores /XRefStm."""
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    size = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    out = io.BytesIO()
    out.write(pdf if pdf.endswith(b"\n") else pdf + b"\n")
    entries: list[tuple[int, int, int]] = []
    index: list[int] = []
    if redefine is not None:
        num, body = redefine
        entries.append((1, out.tell(), 0))
        index += [num, 1]
        out.write(f"{num} 0 obj\n".encode() + body + b"\nendobj\n")
    stream_at = out.tell()
    entries.append((1, stream_at, 0))
    index += [size, 1]
    out.write(_xref_stream(size, entries, size + 1, index))
    xref = out.tell()
    out.write(b"xref\n0 0\n")
    out.write(
        f"trailer\n<< /Size {size + 1} /Root 1 0 R /Prev {prev} /XRefStm {stream_at} >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def patch_contents_hex(pdf: bytes, old: bytes, new: bytes, occurrence: int | None = None) -> bytes:
    """Replace ``old`` by ``new`` (hex, same length) inside the signature values (the
    unsigned /Contents), every occurrence or only the ``occurrence``-th."""
    assert len(old) == len(new)
    data = bytearray(pdf)
    found = 0
    for m in re.finditer(rb"/Contents\s*<([0-9a-fA-F]+)>", pdf):
        for hit in re.finditer(re.escape(old), m.group(1), flags=re.IGNORECASE):
            if hit.start() % 2 == 0 and (occurrence is None or found == occurrence):
                at = m.start(1) + hit.start()
                data[at : at + len(old)] = new
            found += 1 if hit.start() % 2 == 0 else 0
    return bytes(data)


def same_length(pdf: bytes, m: re.Match[bytes], group: int, value: int) -> bytes | None:
    text = str(value).encode()
    width = m.end(group) - m.start(group)
    if len(text) > width:
        return None
    return pdf[: m.start(group)] + text.ljust(width) + pdf[m.end(group) :]


@pytest.fixture(scope="module")
def hybrid_signed(pki: ThrowawayPki) -> bytes:
    return sign_hybrid(hybrid_pdf(), pki)


@pytest.fixture(scope="module")
def five_signatures(pki: ThrowawayPki) -> bytes:
    """Five signatures (every other one time-stamped) and a document time-stamp."""
    pdf = minimal_pdf()
    for i in range(5):
        pdf = sign(pdf, pki, field=f"Sig{i + 1}", timestamp=i % 2 == 0)
    return add_document_timestamp(pdf, pki)


def assert_clean(report: object, what: str) -> None:
    verdict = report.verdict  # type: ignore[attr-defined]
    reasons = report.reasons  # type: ignore[attr-defined]
    assert isinstance(verdict, Verdict), what
    if verdict not in (Verdict.VALID, Verdict.UNSIGNED):
        assert reasons, f"{what}: {verdict} without a reason"
    leaked = [r for r in reasons if CRASH.search(r)]
    assert not leaked, f"{what}: {leaked}"


# ---------------------------------------------------------------- hybrid files


def test_hybrid_input_really_is_hybrid(hybrid_signed: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(hybrid_signed), strict=True)
    assert reader.xrefs.hybrid_xrefs_present
    assert "/Font" in reader.root["/Pages"]["/Kids"][0]["/Resources"]


def test_signed_hybrid_file_is_valid(verifier: Verifier, hybrid_signed: bytes) -> None:
    report = verifier.verify(hybrid_signed)
    assert report.verdict == Verdict.VALID, report.reasons
    assert report.signatures[0].coverage_detail == "ENTIRE_FILE"


def test_hybrid_update_after_signing_is_accepted(verifier: Verifier, hybrid_signed: bytes) -> None:
    # an update that adds nothing but its own hybrid cross-reference stream
    report = verifier.verify(hybrid_update(hybrid_signed))
    assert report.verdict == Verdict.VALID, report.reasons


def test_change_hidden_in_a_hybrid_stream_is_caught(
    verifier: Verifier, hybrid_signed: bytes
) -> None:
    content = b"BT /F1 18 Tf 72 720 Td (Pay 1 000 000 000 VND) Tj ET"
    body = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
    tampered = hybrid_update(hybrid_signed, redefine=(4, body))
    # a hybrid-aware reader (pyHanko, Acrobat) shows the new page content
    reader = PdfFileReader(io.BytesIO(tampered), strict=True)
    assert reader.root["/Pages"]["/Kids"][0]["/Contents"].data == content
    report = verifier.verify(tampered)
    assert report.verdict == Verdict.INVALID
    assert any("modified after signing" in r for r in report.reasons), report.reasons
    assert not any("hybrid-reference files" in r for r in report.reasons)


def test_hybrid_signed_file_with_a_flipped_byte_is_invalid(
    verifier: Verifier, hybrid_signed: bytes
) -> None:
    data = bytearray(hybrid_signed)
    at = hybrid_signed.index(b"Hello, hybrid")
    data[at] = ord("J")
    report = verifier.verify(bytes(data))
    assert report.verdict == Verdict.INVALID
    assert any("digest mismatch" in r for r in report.reasons), report.reasons


# ---------------------------------------------------------------- crash paths


def test_unknown_digest_oid_is_a_finding(verifier: Verifier, signed_bb: bytes) -> None:
    patched = patch_contents_hex(signed_bb, SHA256_OID_HEX, UNKNOWN_OID_HEX)
    assert patched != signed_bb
    report = verifier.verify(patched)
    assert report.verdict == Verdict.INDETERMINATE, report.reasons
    assert any(f"digest algorithm {UNKNOWN_OID} is not supported" in r for r in report.reasons), (
        report.reasons
    )
    assert_clean(report, "unknown digest OID")


def test_five_signatures_and_a_document_timestamp(
    verifier: Verifier, five_signatures: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "five.pdf"
    path.write_bytes(five_signatures)
    for source in (five_signatures, path):
        report = verifier.verify(source)
        assert report.verdict == Verdict.VALID, report.reasons
        assert len(report.signatures) == 5
        assert len(report.document_timestamps) == 1


def test_negative_prev_offset_in_a_file_is_worded(
    verifier: Verifier, five_signatures: bytes, tmp_path: Path
) -> None:
    # seek(-1) on a real file fails with "OSError: [Errno 22] Invalid argument"
    m = list(re.finditer(rb"/Prev\s+(\d+)", five_signatures))[2]
    variant = same_length(five_signatures, m, 1, -1)
    assert variant is not None
    path = tmp_path / "negative-prev.pdf"
    path.write_bytes(variant)
    for source in (variant, path):
        report = verifier.verify(source)
        assert report.verdict == Verdict.UNREADABLE
        assert any("points before the start of the file" in r for r in report.reasons)
        assert_clean(report, "negative /Prev")


def test_negative_byte_range_is_invalid(
    verifier: Verifier, five_signatures: bytes, tmp_path: Path
) -> None:
    m = re.search(rb"/ByteRange\s*\[\s*\d+\s+\d+\s+(\d+)", five_signatures)
    assert m is not None
    variant = same_length(five_signatures, m, 1, -1)
    assert variant is not None
    path = tmp_path / "negative-byterange.pdf"
    path.write_bytes(variant)
    for source in (variant, path):
        report = verifier.verify(source)
        assert report.verdict == Verdict.INVALID
        assert any("/ByteRange" in r and "negative" in r for r in report.reasons), report.reasons
        assert_clean(report, "negative /ByteRange")


# ---------------------------------------------------------------- fuzz


def _variants(pdf: bytes, rnd: random.Random) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    size = len(pdf)
    # every number of every /ByteRange, and every cross-reference pointer
    for m in re.finditer(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", pdf):
        for g in range(1, 5):
            for value in (-1, -int(m.group(g)) or -7, 0, size, size + 10_000):
                v = same_length(pdf, m, g, value)
                if v is not None:
                    out.append((f"ByteRange@{m.start()}[{g}]={value}", v))
    for m in re.finditer(rb"(?:startxref|/Prev|/XRefStm)\s+(\d+)", pdf):
        for value in (-1, -5, 0, 3, 10 ** (m.end(1) - m.start(1)) - 1):
            v = same_length(pdf, m, 1, value)
            if v is not None:
                out.append((f"pointer@{m.start()}={value}", v))
    # cross-reference table entries
    entries = list(re.finditer(rb"(?m)^(\d{10}) \d{5} n", pdf))
    for m in rnd.sample(entries, min(12, len(entries))):
        value = rnd.choice([-1, 0, 1, size, int(m.group(1)) + rnd.randint(-9, 9)])
        text = (b"-%09d" % -value) if value < 0 else b"%010d" % value
        out.append((f"xref@{m.start()}={value}", pdf[: m.start(1)] + text + pdf[m.end(1) :]))
    # digest OIDs inside the signature values, one occurrence at a time
    hits = sum(
        len(re.findall(SHA256_OID_HEX, c)) for c in re.findall(rb"/Contents\s*<([0-9a-f]+)>", pdf)
    )
    for k in range(hits):
        out.append((f"oid#{k}", patch_contents_hex(pdf, SHA256_OID_HEX, UNKNOWN_OID_HEX, k)))
    # random bytes anywhere
    for _ in range(25):
        at = rnd.randrange(size)
        data = bytearray(pdf)
        data[at] = rnd.randrange(256)
        out.append((f"byte@{at}", bytes(data)))
    return out


def test_fuzzed_variants_get_clean_verdicts(pki: ThrowawayPki, tmp_path: Path) -> None:
    pdf = sign(minimal_pdf(), pki, field="Sig1", timestamp=True)
    pdf = sign(pdf, pki, field="Sig2")
    pdf = add_document_timestamp(pdf, pki)
    verifier = Verifier([pki.root.pem], allow_fetching=False, timeout=None)
    rnd = random.Random(11)
    variants = _variants(pdf, rnd)
    assert len(variants) > 60
    path = tmp_path / "variant.pdf"
    for i, (what, data) in enumerate(variants):
        if i % 2:  # half from a file: negative seeks fail differently there (EINVAL)
            path.write_bytes(data)
            report = verifier.verify(path)
        else:
            report = verifier.verify(data)
        assert_clean(report, what)

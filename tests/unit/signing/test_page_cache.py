"""A page's text lines are read once for the leader's signature and the seal over it.

The text read to place a signature is kept under the SHA-256 of the signed output
(the signature changed no page content); the seal, given exactly that file, finds
it. A file changed in between, or another copy of the same letter, is read afresh."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from services.common.contract import Verdict
from services.signing.appearance import Box, Page, Profile
from services.signing.pades import Level
from services.signing.pagecache import PageCache, output_digest
from services.signing.pdfwork import InProcessReading
from tests.unit.signing.kit import SigningKit


class CountingReading(InProcessReading):
    """Reads in this process and remembers every page it really read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[Page] = []

    def page(self, path: Path, index: int) -> Page:
        page = super().page(path, index)
        self.read.append(page)
        return page


@pytest.fixture
def reading(kit: SigningKit, monkeypatch: pytest.MonkeyPatch) -> CountingReading:
    counting = CountingReading()
    monkeypatch.setattr(kit.signing, "pdf", counting)
    monkeypatch.setattr(kit.signing, "pages", PageCache())
    return counting


def _text_added(source: Path, target: Path) -> Path:
    """``source`` with a line of text drawn on its last page by an incremental update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(source.read_bytes()))
    page = writer.root["/Pages"].raw_get("/Kids")[-1].get_object()
    helvetica = generic.DictionaryObject(
        {
            "/Type": generic.NameObject("/Font"),
            "/Subtype": generic.NameObject("/Type1"),
            "/BaseFont": generic.NameObject("/Helvetica"),
        }
    )
    fonts = generic.DictionaryObject(page["/Resources"]["/Font"])
    fonts["/FX"] = writer.add_object(helvetica)
    page["/Resources"] = generic.DictionaryObject({**page["/Resources"], "/Font": fonts})
    drawn = generic.StreamObject(stream_data=b"BT /FX 12 Tf 90 240 Td (Added later) Tj ET")
    old = page.raw_get("/Contents")
    contents = list(old) if isinstance(old, generic.ArrayObject) else [old]
    page["/Contents"] = generic.ArrayObject([*contents, writer.add_object(drawn)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    target.write_bytes(out.getvalue())
    return target


def test_the_seal_over_a_signature_reads_the_page_no_second_time(
    kit: SigningKit, reading: CountingReading
) -> None:
    signed, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    sealed, _ = kit.sign(signed, Profile.ORGANIZATION, Level.B_LT)
    assert len(reading.read) == 1
    report = kit.verifier().verify(sealed.read_bytes())
    assert report.verdict == Verdict.VALID, report.reasons


def test_a_file_changed_after_the_signature_is_read_again(
    kit: SigningKit, reading: CountingReading, tmp_path: Path
) -> None:
    signed, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    changed = _text_added(signed, tmp_path / "changed.pdf")
    kit.sign(changed, Profile.ORGANIZATION, Level.B_T)
    assert len(reading.read) == 2
    added = [line.text for line in reading.read[1].lines if line not in reading.read[0].lines]
    assert added == ["Added later"]


def test_the_same_letter_signed_twice_is_read_twice(
    kit: SigningKit, reading: CountingReading
) -> None:
    """Only the output of a signature is known; an unsigned file is always read."""
    kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    assert len(reading.read) == 2


def test_the_cache_keeps_the_most_recent_pages() -> None:
    cache = PageCache(size=2)
    pages = [Page(index=0, box=Box(0, 0, 10, 10), lines=()) for _ in range(3)]
    for n, page in enumerate(pages):
        cache.put(f"k{n}", page)
    assert cache.get("k0", 0) is None
    assert cache.get("k1", 0) is pages[1] and cache.get("k2", 0) is pages[2]
    assert cache.get("k2", 1) is None  # another page of the same file


def test_an_output_that_cannot_be_read_back_has_no_digest(tmp_path: Path) -> None:
    with (tmp_path / "out.pdf").open("wb") as write_only:
        write_only.write(b"%PDF")
        assert output_digest(write_only) is None
    readable = io.BytesIO(b"%PDF-1.7 signed")
    readable.seek(5)
    assert output_digest(readable) is not None and readable.tell() == 5

"""A page's text lines are read once for the leader's signature and the seal over it.

They are kept under a fingerprint of what the text is read from (content streams,
everything the resources reach, the inherited boxes): a signature added in between
leaves it unchanged, any change to the page's text gives another one, so a changed
page is always read afresh."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from services.signing.appearance import Page, Profile
from services.signing.pades import Level
from services.signing.pdfinfo import signature_widgets
from services.signing.pdfwork import InProcessReading, PageCache
from testkit.official_doc import official_letter
from tests.unit.signing.kit import SigningKit


class CountingReading(InProcessReading):
    """Reads in this process and remembers every page it really read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[Page] = []

    def _read_page(self, path: Path, index: int) -> Page:
        page = super()._read_page(path, index)
        self.read.append(page)
        return page


def _key(path: Path, index: int = -1) -> str:
    keys = signature_widgets(path, fingerprint=(index,)).page_keys
    return keys[index % signature_widgets(path).pages]


def _changed(source: Path, target: Path, change: str) -> Path:
    """``source`` with one incremental update to its last page."""
    with source.open("rb") as f:
        writer = IncrementalPdfFileWriter(io.BytesIO(f.read()))
    page_ref = writer.root["/Pages"].raw_get("/Kids")[-1]
    page = page_ref.get_object()
    if change == "text":
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
    elif change == "content":  # the content only, not the resources
        drawn = generic.StreamObject(stream_data=b"0 0 m 100 100 l S")
        old = page.raw_get("/Contents")
        contents = list(old) if isinstance(old, generic.ArrayObject) else [old]
        page["/Contents"] = generic.ArrayObject([*contents, writer.add_object(drawn)])
    elif change == "font":
        fonts = page["/Resources"]["/Font"]
        name = next(iter(fonts))
        font = fonts[name]
        fonts[name] = generic.DictionaryObject({**font, "/FirstChar": generic.NumberObject(2)})
        page["/Resources"] = generic.DictionaryObject(
            {**page["/Resources"], "/Font": generic.DictionaryObject(fonts)}
        )
    elif change == "box":
        page["/CropBox"] = generic.ArrayObject(generic.FloatObject(v) for v in (0, 0, 500, 700))
    elif change == "annotation":
        note = generic.DictionaryObject(
            {
                "/Type": generic.NameObject("/Annot"),
                "/Subtype": generic.NameObject("/Text"),
                "/Rect": generic.ArrayObject(generic.FloatObject(v) for v in (10, 10, 30, 30)),
                "/Contents": generic.TextStringObject("ghi chú"),
            }
        )
        annots = list(page.get("/Annots", generic.ArrayObject()))
        page["/Annots"] = generic.ArrayObject([*annots, writer.add_object(note)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    target.write_bytes(out.getvalue())
    return target


def test_a_signature_leaves_the_fingerprint_and_another_letter_has_its_own(
    kit: SigningKit,
) -> None:
    letter = kit.letter()
    signed, _ = kit.sign(letter, Profile.PERSONAL, Level.B_T)
    assert _key(signed) == _key(letter)
    other = kit.workdir / "other-letter.pdf"
    other.write_bytes(official_letter(full_name="Trần Thị Bình"))
    assert _key(other) != _key(letter)


@pytest.mark.parametrize("change", ["text", "content", "font", "box"])
def test_a_change_to_what_the_text_is_read_from_changes_the_fingerprint(
    kit: SigningKit, tmp_path: Path, change: str
) -> None:
    signed, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    changed = _changed(signed, tmp_path / f"{change}.pdf", change)
    assert _key(changed) != _key(signed)


def test_an_annotation_added_leaves_the_fingerprint(kit: SigningKit, tmp_path: Path) -> None:
    letter = kit.letter()
    assert _key(_changed(letter, tmp_path / "noted.pdf", "annotation")) == _key(letter)


def test_the_seal_over_a_signature_reads_the_page_no_second_time(
    kit: SigningKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = CountingReading()
    monkeypatch.setattr(kit.signing, "pdf", reading)
    signed, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    sealed, _ = kit.sign(signed, Profile.ORGANIZATION, Level.B_T)
    assert len(reading.read) == 1
    report = kit.verifier().verify(sealed.read_bytes())
    assert report.verdict.value == "valid", report


def test_a_page_changed_after_the_signature_is_read_again(
    kit: SigningKit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reading = CountingReading()
    monkeypatch.setattr(kit.signing, "pdf", reading)
    signed, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_T)
    changed = _changed(signed, tmp_path / "text.pdf", "text")
    kit.sign(changed, Profile.ORGANIZATION, Level.B_T, box=None)
    assert len(reading.read) == 2
    assert [line.text for line in reading.read[1].lines if line not in reading.read[0].lines] == [
        "Added later"
    ]


def test_the_cache_keeps_the_most_recent_pages() -> None:
    from services.signing.appearance import Box

    cache = PageCache(size=2)
    pages = [Page(index=0, box=Box(0, 0, 10, 10), lines=()) for _ in range(3)]
    for n, page in enumerate(pages):
        cache.put(f"k{n}", page)
    assert cache.get("k0", 0) is None
    assert cache.get("k1", 0) is pages[1] and cache.get("k2", 0) is pages[2]
    assert cache.get("k2", 1) is None  # another page of the same fingerprint

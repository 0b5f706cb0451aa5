"""The cached stamp parts (services/signing/stampkit.py): the embedded font subset and its
ToUnicode map, images with their soft masks, and what ends up in a signed PDF."""

from __future__ import annotations

import io
import re
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing.appearance import Profile, signing_time_text
from services.signing.images import draw_seal, draw_signature
from services.signing.pades import Level
from services.signing.stampkit import EmbeddedFont, embedded_font, embedded_image
from tests.unit.signing.kit import AGENCY, LEADER, ORGANIZATION, SigningKit, pdftotext

VIETNAMESE = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN Thời gian ký"


def _subset(font: EmbeddedFont) -> TTFont:
    return TTFont(io.BytesIO(zlib.decompress(font.font_file)))


def _to_unicode(font: EmbeddedFont) -> dict[int, str]:
    cmap = zlib.decompress(font.to_unicode).decode()
    return {
        int(gid, 16): bytes.fromhex(text).decode("utf-16-be")
        for gid, text in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]+)>", cmap)
        if gid != "0000" or text != "FFFF"
    }


# --- the font ------------------------------------------------------------------------------


def test_every_vietnamese_character_has_a_glyph() -> None:
    font = embedded_font(ORGANIZATION)
    subset = _subset(font)
    order = subset.getGlyphOrder()
    cmap = subset.getBestCmap()
    glyphs = subset["glyf"]
    for char in sorted(set(unicodedata.normalize("NFC", VIETNAMESE))):
        gid = font.gids.get(char)
        assert gid, f"{char!r} (U+{ord(char):04X}) has no glyph"
        # CIDToGIDMap /Identity: the code written is the glyph's index in the subset
        assert order[gid] == cmap[ord(char)]
        if not char.isspace():
            assert glyphs[order[gid]].numberOfContours != 0, f"{char!r} has an empty outline"
    assert subset["head"].unitsPerEm == 1000


def test_to_unicode_maps_every_glyph_back() -> None:
    font = embedded_font(ORGANIZATION)
    back = _to_unicode(font)
    for char in set(unicodedata.normalize("NFC", VIETNAMESE)):
        assert back[font.gids[char]] == char
    assert len(back) == len(set(font.gids.values()))


def test_widths_are_in_thousandths_of_an_em() -> None:
    """pyHanko and PDF readers take /W in 1/1000 em: LT Serif has Times' metrics."""
    font = embedded_font(ORGANIZATION)
    width = {c: font.widths[font.gids[c]] for c in "M A.Ệ"}
    assert width["M"] == pytest.approx(889, abs=10)
    assert width["A"] == pytest.approx(722, abs=10)
    assert width[" "] == pytest.approx(250, abs=10)
    assert width["."] == pytest.approx(250, abs=10)
    assert width["Ệ"] == pytest.approx(611, abs=10)  # as wide as E
    assert font.text_width("MM", 10) == pytest.approx(17.78, abs=0.2)
    assert 600 < font.ascent < 1000 and -300 < font.descent < 0
    assert font.bbox[2] - font.bbox[0] > 1000  # the font's box, not one glyph's


def test_encode_takes_any_unicode_form_and_refuses_missing_characters() -> None:
    font = embedded_font(ORGANIZATION)
    nfd = unicodedata.normalize("NFD", ORGANIZATION)
    assert font.encode(nfd) == font.encode(ORGANIZATION)
    assert font.encode("AN") == f"<{font.gids['A']:04X}{font.gids['N']:04X}>".encode()
    with pytest.raises(KeyError, match="lacks"):
        font.encode("Ω")


def test_the_subset_holds_only_what_stamps_need() -> None:
    small = embedded_font("")
    with_name = embedded_font(ORGANIZATION)
    assert "Ỷ" not in small.gids and "Ỷ" in with_name.gids
    assert set(small.gids) <= set(with_name.gids)
    assert len(zlib.decompress(with_name.font_file)) < 100_000  # a subset, not the whole font
    assert re.fullmatch(r"[A-Z]{6}\+LTSerif-Regular", with_name.base_name)
    assert embedded_font(ORGANIZATION, bold=True).base_name.endswith("+LTSerif-Bold")


def test_fonts_are_cached_per_charset() -> None:
    assert embedded_font(ORGANIZATION) is embedded_font(ORGANIZATION)
    assert embedded_font(ORGANIZATION) is not embedded_font(ORGANIZATION + "Đ")


# --- images --------------------------------------------------------------------------------


def test_images_keep_their_alpha_channel() -> None:
    png = draw_seal(ORGANIZATION, AGENCY)
    image = embedded_image(png)
    with Image.open(io.BytesIO(png)) as source:
        assert (image.width, image.height) == source.size
        alpha = source.convert("RGBA").getchannel("A").tobytes()
    assert image.alpha is not None
    mask = zlib.decompress(image.alpha)
    assert mask == alpha
    assert min(mask) == 0 and max(mask) == 255  # transparent corners, opaque ink
    assert len(zlib.decompress(image.rgb)) == 3 * image.width * image.height


def test_an_image_is_written_with_its_soft_mask(tmp_path: Path) -> None:
    from testkit.pdfs import one_page_pdf

    image = embedded_image(draw_signature(LEADER))
    writer = IncrementalPdfFileWriter(io.BytesIO(one_page_pdf()))
    written = image.add_to(writer).get_object()
    assert written["/Subtype"] == "/Image"
    assert written["/ColorSpace"] == "/DeviceRGB"
    mask = written["/SMask"].get_object()
    assert mask["/ColorSpace"] == "/DeviceGray"
    assert (mask["/Width"], mask["/Height"]) == (image.width, image.height)
    assert mask.data == zlib.decompress(image.alpha or b"")


def test_images_are_cached_by_content() -> None:
    png = draw_signature(LEADER)
    copy = bytes(bytearray(png))
    assert copy is not png
    assert embedded_image(copy) is embedded_image(png)
    assert embedded_image(draw_signature("Trần Thị Bình")) is not embedded_image(png)


# --- in a signed document ---------------------------------------------------------------------


def _widget(path: Path, field: str) -> Any:
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    for ref in reader.root["/AcroForm"]["/Fields"]:
        widget = ref.get_object()
        if widget["/T"] == field:
            return widget
    raise AssertionError(f"no field {field} in {path}")


@pytest.fixture(scope="module")
def sealed(kit: SigningKit) -> tuple[Path, str]:
    personal, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_B)
    path, result = kit.sign(personal, Profile.ORGANIZATION, Level.B_B)
    return path, signing_time_text(result.signed_at)


def test_stamp_text_is_extractable(sealed: tuple[Path, str]) -> None:
    """Text pulled out of the signed page (ToUnicode at work): name and ISO time."""
    path, when = sealed
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", when)
    text = pdftotext(path)
    assert ORGANIZATION in text
    assert when in text


def test_copy_stamp_text_is_extractable(kit: SigningKit) -> None:
    path, result = kit.sign(kit.letter(), Profile.COPY, Level.B_B)
    text = pdftotext(path)
    assert f"Thời gian ký: {signing_time_text(result.signed_at)}" in text
    assert ORGANIZATION in text


def test_the_seal_stamp_embeds_a_unicode_font_and_a_masked_image(
    sealed: tuple[Path, str],
) -> None:
    path, _when = sealed
    appearance = _widget(path, "organization-2")["/AP"]["/N"].get_object()
    resources = appearance["/Resources"]
    (image,) = [ref.get_object() for ref in resources["/XObject"].values()]
    assert image["/Subtype"] == "/Image"
    assert isinstance(image["/SMask"].get_object(), generic.StreamObject)
    (font,) = [ref.get_object() for ref in resources["/Font"].values()]
    assert (font["/Subtype"], font["/Encoding"]) == ("/Type0", "/Identity-H")
    assert "/ToUnicode" in font
    descendant = font["/DescendantFonts"][0].get_object()
    assert descendant["/CIDToGIDMap"] == "/Identity"
    assert "/FontFile2" in descendant["/FontDescriptor"]

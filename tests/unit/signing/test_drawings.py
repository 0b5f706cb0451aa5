"""What each profile draws inside its field (services/signing/drawings.py): everything
inside the field, nothing clipped, the seal at real size when it fits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.common.errors import ValidationFailed
from services.signing import drawings
from services.signing.appearance import MM, Box, Page, Profile, TextLine, signing_time_text
from services.signing.images import draw_seal, draw_signature, png_size_mm
from services.signing.pades import Level
from services.signing.stampkit import Drawing, EmbeddedImage, embedded_font, embedded_image
from tests.unit.signing.kit import AGENCY, LEADER, ORGANIZATION, SigningKit, pdftotext

A4 = Box(0, 0, 595.2756, 841.8898)
MOMENT = datetime(2026, 11, 21, 2, 30, tzinfo=UTC)
WHEN = "2026-11-21T09:30:00+07:00"
LETTER_BLOCK = Page(
    0,
    A4,
    (
        TextLine("TM. UỶ BAN NHÂN DÂN", Box(370.4, 297.2, 520.2, 310.2)),
        TextLine("CHỦ TỊCH", Box(412.6, 281.2, 478.0, 294.2)),
        TextLine(LEADER, Box(400.9, 187.2, 489.7, 200.2)),
    ),
)
EMPTY = Page(0, A4, ())


@pytest.fixture(scope="module")
def seal_png() -> bytes:
    return draw_seal(ORGANIZATION, AGENCY)


@pytest.fixture(scope="module")
def seal(seal_png: bytes) -> EmbeddedImage:
    return embedded_image(seal_png)


def assert_inside(drawing: Drawing) -> None:
    """Every image and every line of text within the field (nothing clipped away)."""
    eps = 1e-6
    for image in drawing.images:
        assert image.x >= -eps and image.y >= -eps, image
        assert image.x + image.width <= drawing.width + eps, image
        assert image.y + image.height <= drawing.height + eps, image
    font = embedded_font(drawing.charset)
    for text in drawing.texts:
        width = font.text_width(text.text, text.size)
        left = text.x - width / 2 if text.centred else text.x
        assert left >= -eps and left + width <= drawing.width + eps, text
        assert text.y + font.descent * text.size / 1000 >= -eps, text  # descenders too
        assert text.y + font.ascent * text.size / 1000 <= drawing.height + eps, text


def test_personal_image_keeps_its_aspect_in_an_explicit_box() -> None:
    image = embedded_image(draw_signature(LEADER))
    look = drawings.personal(EMPTY, image, LEADER, Box(100, 100, 300, 300))
    (item,) = look.drawing.images
    assert item.width / item.height == pytest.approx(image.aspect)
    assert item.width == pytest.approx(200)  # as wide as the box, centred in its height
    assert item.y == pytest.approx((200 - item.height) / 2)
    assert_inside(look.drawing)


def test_organization_seal_at_real_size_over_the_signature(
    seal: EmbeddedImage, seal_png: bytes
) -> None:
    personal = Box(367.3, 209.5, 523.2, 271.9)
    look = drawings.organization(
        LETTER_BLOCK, seal, png_size_mm(seal_png), ORGANIZATION, MOMENT, personal, None
    )
    (item,) = look.drawing.images
    assert item.width == pytest.approx(36 * MM, abs=0.5)  # the drawn seal is 36 mm across
    assert item.y + item.height == pytest.approx(look.drawing.height)  # on top, caption below
    assert [t.text for t in look.drawing.texts] == [ORGANIZATION, WHEN]
    assert all(t.centred for t in look.drawing.texts)
    assert_inside(look.drawing)


def test_organization_in_a_low_explicit_box_shrinks_the_seal_keeps_the_caption(
    seal: EmbeddedImage, seal_png: bytes
) -> None:
    box = Box(85, 400, 300, 460)  # wide, and lower than the 36 mm seal
    look = drawings.organization(
        LETTER_BLOCK, seal, png_size_mm(seal_png), ORGANIZATION, MOMENT, None, box
    )
    (item,) = look.drawing.images
    assert item.height < 36 * MM
    assert item.width / item.height == pytest.approx(1.0, abs=0.01)
    assert [t.text for t in look.drawing.texts] == [ORGANIZATION, WHEN]
    assert_inside(look.drawing)


def test_organization_in_a_large_explicit_box_is_real_size(
    seal: EmbeddedImage, seal_png: bytes
) -> None:
    look = drawings.organization(
        EMPTY, seal, png_size_mm(seal_png), ORGANIZATION, MOMENT, None, Box(85, 300, 300, 500)
    )
    (item,) = look.drawing.images
    assert item.width == pytest.approx(36 * MM, abs=0.5)
    assert_inside(look.drawing)


def test_organization_refuses_a_box_too_low_for_its_caption(
    seal: EmbeddedImage, seal_png: bytes
) -> None:
    with pytest.raises(ValidationFailed, match="too low"):
        drawings.organization(
            EMPTY, seal, png_size_mm(seal_png), ORGANIZATION, MOMENT, None, Box(85, 400, 300, 415)
        )


def test_organization_needs_a_place(seal: EmbeddedImage, seal_png: bytes) -> None:
    with pytest.raises(ValueError, match="needs"):
        drawings.organization(EMPTY, seal, png_size_mm(seal_png), ORGANIZATION, MOMENT, None, None)


@pytest.mark.parametrize("profile", [Profile.COPY, Profile.ATTACHMENT])
def test_text_stamp_at_the_top_right(profile: Profile) -> None:
    look = drawings.text_only(EMPTY, profile, ORGANIZATION, MOMENT, "15/UBND-VP", None)
    texts = [t.text for t in look.drawing.texts]
    assert texts[-2:] == [ORGANIZATION, f"Thời gian ký: {WHEN}"]
    assert ("Kèm theo văn bản số 15/UBND-VP" in texts) is (profile is Profile.ATTACHMENT)
    assert {t.size for t in look.drawing.texts} == {10.0}  # Times size 10, as Decree 30 asks
    assert look.drawing.frame_width > 0
    assert look.placement.box.y2 > A4.y2 - 30 * MM
    assert_inside(look.drawing)


def test_text_stamp_in_a_low_explicit_box_shrinks_its_text() -> None:
    box = Box(300, 700, 560, 745)  # 45 pt for three lines
    look = drawings.text_only(EMPTY, Profile.ATTACHMENT, ORGANIZATION, MOMENT, "15/UBND-VP", box)
    assert len(look.drawing.texts) == 3
    assert all(7.0 <= t.size < 10.0 for t in look.drawing.texts)
    assert_inside(look.drawing)
    with pytest.raises(ValidationFailed, match="too low"):
        drawings.text_only(
            EMPTY, Profile.ATTACHMENT, ORGANIZATION, MOMENT, "15/UBND-VP", Box(300, 700, 560, 725)
        )


def test_a_long_name_is_shrunk_to_the_width() -> None:
    name = "SỞ NÔNG NGHIỆP VÀ PHÁT TRIỂN NÔNG THÔN TỈNH NGHỆ AN, CHI CỤC THUỶ LỢI"
    look = drawings.text_only(EMPTY, Profile.COPY, name, MOMENT, None, None)
    first = look.drawing.texts[0]
    assert first.text == name and first.size < 10.0
    assert_inside(look.drawing)


def test_a_seal_in_an_explicit_box_shows_its_caption(kit: SigningKit, tmp_path: Path) -> None:
    """Through sign_file: the caption of a seal in a low box is on the page."""
    path, result = kit.sign(
        kit.letter(),
        Profile.ORGANIZATION,
        Level.B_B,
        page=1,
        box=Box(85, 400, 300, 460),
        out=tmp_path / "boxed.pdf",
    )
    text = pdftotext(path)
    assert ORGANIZATION in text
    assert signing_time_text(result.signed_at) in text

"""Decree 30 layout (services/signing/appearance.py): pure geometry, on the text lines
pdftext.read_page finds in official_letter() and on hand-made pages."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.common.errors import ValidationFailed
from services.signing.appearance import (
    MM,
    STAMP_CLEARANCE,
    STAMP_REACH,
    Box,
    Page,
    Placement,
    Profile,
    TextLine,
    _ink,
    check_free,
    explicit_placement,
    find_signer_block,
    normalize,
    personal_placement,
    seal_placement,
    signing_time_text,
    stamp_lines,
    top_right_placement,
)
from services.signing.pdftext import read_page
from testkit.official_doc import official_letter

A4 = Box(0, 0, 595.2756, 841.8898)
NAME = "Nguyễn Văn An"
POSITION = "CHỦ TỊCH"
MOTTO = "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"
SIGNATURE_ASPECT = 2.5  # a 40 × 16 mm handwritten signature


@pytest.fixture(scope="module")
def letter_page(tmp_path_factory: pytest.TempPathFactory) -> Page:
    path: Path = tmp_path_factory.mktemp("appearance") / "letter.pdf"
    path.write_bytes(official_letter())
    return read_page(path)


def _line(page: Page, text: str) -> TextLine:
    return next(line for line in page.lines if normalize(line.text) == normalize(text))


def _page(*lines: tuple[str, tuple[float, float, float, float]]) -> Page:
    return Page(0, A4, tuple(TextLine(text, Box(*box)) for text, box in lines))


def _covers_no_text(box: Box, page: Page, allowed: tuple[TextLine, ...] = ()) -> None:
    covered = [line.text for line in page.lines if line not in allowed and box.overlaps(line.box)]
    assert covered == [], f"{box} covers {covered}"


# --- Box ---------------------------------------------------------------------------------


def test_box_measures() -> None:
    box = Box(10, 20, 110, 70)
    assert (box.width, box.height) == (100, 50)
    assert (box.centre_x, box.centre_y) == (60, 45)
    assert Box(10.4, 20.6, 110.5, 69.49).as_tuple() == (10, 21, 110, 69)


@pytest.mark.parametrize("corners", [(10, 10, 10, 20), (10, 10, 20, 10), (20, 10, 10, 20)])
def test_an_empty_or_inverted_box_is_refused(corners: tuple[float, ...]) -> None:
    with pytest.raises(ValidationFailed, match="empty or inverted"):
        Box(*corners)


def test_box_overlap_and_containment() -> None:
    box = Box(0, 0, 100, 100)
    assert box.overlaps(Box(50, 50, 150, 150))
    assert box.overlaps(Box(20, 20, 30, 30))  # inside counts
    assert not box.overlaps(Box(100, 0, 200, 100))  # sharing an edge does not
    assert not box.overlaps(Box(99.8, 0, 200, 100))  # within the half-point tolerance
    assert box.overlaps(Box(99, 0, 200, 100))
    assert not box.overlaps(Box(0, 200, 100, 300))
    assert Box(10, 10, 90, 90).inside(box)
    assert box.inside(box)
    assert not Box(-1, 10, 90, 90).inside(box)
    assert not Box(10, 10, 90, 100.5).inside(box)


# --- the text of the letter ----------------------------------------------------------------


def test_read_page_finds_the_letter_lines(letter_page: Page) -> None:
    assert letter_page.index == 0
    assert letter_page.box.as_tuple() == (0, 0, 595, 842)
    texts = [normalize(line.text) for line in letter_page.lines]
    for wanted in (MOTTO, POSITION, NAME, "Nơi nhận:", "Số: 15/UBND-VP"):
        assert normalize(wanted) in texts
    assert _line(letter_page, POSITION).box.y1 > _line(letter_page, NAME).box.y2 + 50


def test_find_signer_block(letter_page: Page) -> None:
    position, name = find_signer_block(letter_page, NAME)
    assert normalize(name.text) == normalize(NAME)
    assert normalize(position.text) == normalize(POSITION)  # the line just above, not "TM. ..."


def test_find_signer_block_whatever_the_unicode_form(letter_page: Page) -> None:
    decomposed = unicodedata.normalize("NFD", "  nguyễn   VĂN an ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    _position, name = find_signer_block(letter_page, decomposed)
    assert normalize(name.text) == normalize(NAME)


def test_find_signer_block_refuses_an_absent_name(letter_page: Page) -> None:
    with pytest.raises(ValidationFailed, match="not on page 1"):
        find_signer_block(letter_page, "Trần Thị Bình")
    with pytest.raises(ValidationFailed, match="not on page 1"):
        find_signer_block(letter_page, "")


def test_find_signer_block_needs_a_line_above_the_name() -> None:
    page = _page(("Nguyễn Văn An", (400, 700, 490, 713)), ("CHỦ TỊCH", (100, 800, 160, 813)))
    with pytest.raises(ValidationFailed, match="no position line"):
        find_signer_block(page, NAME)


def test_find_signer_block_takes_the_lowest_name() -> None:
    """The name also appears in the body; the signature goes above the signer's one."""
    page = _page(
        ("giao ông Nguyễn Văn An chủ trì", (85, 600, 300, 614)),
        ("CHỦ TỊCH", (412, 281, 478, 294)),
        ("Nguyễn Văn An", (401, 187, 490, 200)),
    )
    position, name = find_signer_block(page, NAME)
    assert name.box.y1 == 187
    assert position.text == "CHỦ TỊCH"


# --- personal -----------------------------------------------------------------------------


def test_personal_placement_sits_between_position_and_name(letter_page: Page) -> None:
    position, name = find_signer_block(letter_page, NAME)
    placement = personal_placement(letter_page, NAME, SIGNATURE_ASPECT)
    box = placement.box
    assert placement.page == 0
    assert box.y1 >= name.box.y2
    assert box.y2 <= position.box.y1
    assert box.centre_x == pytest.approx(name.box.centre_x)
    assert box.width / box.height == pytest.approx(SIGNATURE_ASPECT)
    assert box.width <= 55 * MM + 1e-6
    assert box.height >= 8 * MM
    assert box.inside(letter_page.box)
    _covers_no_text(box, letter_page)


def test_personal_placement_is_limited_by_the_gap_height(letter_page: Page) -> None:
    """A tall image is as high as the gap allows, centred in it."""
    position, name = find_signer_block(letter_page, NAME)
    box = personal_placement(letter_page, NAME, image_aspect=1.0).box
    assert box.height == pytest.approx(position.box.y1 - name.box.y2 - 4)  # 2 pt padding each
    assert box.centre_y == pytest.approx((position.box.y1 + name.box.y2) / 2)
    _covers_no_text(box, letter_page)


def test_personal_placement_refuses_a_narrow_gap() -> None:
    page = _page(("CHỦ TỊCH", (412, 220, 478, 233)), ("Nguyễn Văn An", (401, 200, 490, 213)))
    with pytest.raises(ValidationFailed, match="at least 8 mm"):
        personal_placement(page, NAME, SIGNATURE_ASPECT)


def test_personal_placement_never_covers_text_beside_the_gap() -> None:
    """A note left of the signer block, level with the gap: the image would run over it."""
    page = _page(
        ("CHỦ TỊCH", (412, 281, 478, 294)),
        ("Nguyễn Văn An", (401, 187, 490, 200)),
        ("ghi chú bên lề", (300, 230, 395, 242)),
    )
    with pytest.raises(ValidationFailed, match="cover text"):
        personal_placement(page, NAME, SIGNATURE_ASPECT)


# --- organization ---------------------------------------------------------------------------


def test_seal_covers_the_left_third_of_the_personal_signature(letter_page: Page) -> None:
    personal = personal_placement(letter_page, NAME, SIGNATURE_ASPECT).box
    field, seal = seal_placement(letter_page, personal, (36.0, 36.0))
    assert seal.x2 == pytest.approx(personal.x1 + personal.width / 3)
    assert seal.width == pytest.approx(36 * MM)  # real size: 36 mm is 102 pt
    assert seal.height == pytest.approx(102.05, abs=0.01)
    assert seal.centre_y == pytest.approx(personal.centre_y)
    # the field is the seal plus its two-line caption below
    assert field.page == 0
    assert (field.box.x1, field.box.x2, field.box.y2) == (seal.x1, seal.x2, seal.y2)
    assert field.box.y1 == pytest.approx(seal.y1 - (2 * 7.0 * 1.25 + 2))
    assert field.box.inside(letter_page.box)
    # it may cover the signer block (that is what a seal does), nothing else
    block = tuple(_line(letter_page, t) for t in ("TM. UỶ BAN NHÂN DÂN", POSITION, NAME))
    _covers_no_text(field.box, letter_page, allowed=block)


def test_seal_of_another_size_keeps_its_real_size(letter_page: Page) -> None:
    personal = personal_placement(letter_page, NAME, SIGNATURE_ASPECT).box
    _field, seal = seal_placement(letter_page, personal, (40.0, 30.0))
    assert (seal.width, seal.height) == (pytest.approx(40 * MM), pytest.approx(30 * MM))
    assert seal.x2 == pytest.approx(personal.x1 + personal.width / 3)


def test_seal_refuses_to_cover_body_text() -> None:
    """The body's last line runs across the page just above the signer block; a seal
    reaching it must not be placed, though the line comes near the signer block."""
    block = (
        ("TM. UỶ BAN NHÂN DÂN", (370, 297, 520, 310)),
        ("CHỦ TỊCH", (412, 281, 478, 294)),
        ("Nguyễn Văn An", (401, 237, 490, 250)),
    )
    body = (
        "Uỷ ban nhân dân tỉnh đề nghị các sở, ban, ngành thực hiện nghiêm túc.",
        (85, 315, 510, 329),
    )
    page = _page(*block)
    personal = personal_placement(page, NAME, SIGNATURE_ASPECT).box
    field, seal = seal_placement(page, personal, (42.0, 42.0))  # over the signer block: fine
    assert seal.y2 > 315
    with pytest.raises(ValidationFailed, match="cover text"):
        seal_placement(_page(body, *block), personal, (42.0, 42.0))
    # further up the body stays clear of the same seal
    lower = (body[0], (85, 345, 510, 359))
    assert seal_placement(_page(lower, *block), personal, (42.0, 42.0))[0] == field


def test_seal_refuses_text_outside_the_signer_block() -> None:
    personal = Box(367, 209, 523, 272)
    page = _page(
        ("CHỦ TỊCH", (412, 281, 478, 294)),
        ("Nguyễn Văn An", (401, 187, 490, 200)),
        ("Nơi nhận: Sở Tài chính, Sở Nội vụ", (85, 60, 340, 72)),
    )
    field, _seal = seal_placement(page, personal, (36.0, 36.0))
    assert field.box.y1 > 72
    with pytest.raises(ValidationFailed, match="cover text"):
        seal_placement(page, personal, (36.0, 120.0))  # a seal reaching down to that list


def test_seal_refuses_to_leave_the_page() -> None:
    personal = Box(20, 209, 120, 249)  # at the left edge: the seal would stick out
    with pytest.raises(ValidationFailed, match="off the page"):
        seal_placement(_page(), personal, (36.0, 36.0))


# --- copies and attachments ---------------------------------------------------------------


def _clear_of_text(box: Box, page: Page) -> None:
    """At least STAMP_CLEARANCE of white space between the box and every line's ink."""
    for line in page.lines:
        ink = _ink(line)
        apart = max(ink.x1 - box.x2, box.x1 - ink.x2, ink.y1 - box.y2, box.y1 - ink.y2)
        assert apart >= STAMP_CLEARANCE - 1e-6, f"{box} is {apart:.1f} pt from {line.text!r}"


def test_copy_stamp_goes_top_right_above_the_motto_with_white_space(letter_page: Page) -> None:
    placement, size = top_right_placement(letter_page, lines=2)
    box = placement.box
    motto = _line(letter_page, MOTTO)
    assert size == 10.0
    assert placement.page == 0
    assert box.inside(letter_page.box)
    assert box.x2 == pytest.approx(letter_page.box.x2 - 10 * MM)  # 10 mm right margin
    assert box.y2 <= letter_page.box.y2 - 3 * MM  # never closer than 3 mm to the edge
    # above the motto with white space, not on its diacritics (docs/stamps/copy.png)
    assert box.y1 >= _ink(motto).y2 + STAMP_CLEARANCE
    assert box.height >= 2 * size * 1.3
    _covers_no_text(box, letter_page)
    _clear_of_text(box, letter_page)


def test_attachment_stamp_with_three_lines(letter_page: Page) -> None:
    placement, size = top_right_placement(letter_page, lines=3)
    assert 7.0 <= size <= 10.0
    assert placement.box.height >= 3 * size * 1.3
    assert placement.box.inside(letter_page.box)
    _covers_no_text(placement.box, letter_page)
    _clear_of_text(placement.box, letter_page)


def test_an_empty_top_right_keeps_the_preferred_spot() -> None:
    placement, size = top_right_placement(_page(), lines=2)
    assert size == 10.0
    assert placement.box.y2 == pytest.approx(A4.y2 - 10 * MM)


def test_copy_stamp_shrinks_when_the_only_room_is_short() -> None:
    # the column is full below the heading: only the top band is left, 8 pt text fits it
    page = _page(
        (MOTTO, (320, 778, 570, 788)),
        *((f"dòng {n}", (320, 500 + 20 * n, 570, 512 + 20 * n)) for n in range(14)),
    )
    placement, size = top_right_placement(page, lines=3)
    assert 7.0 <= size < 10.0
    assert placement.box.y1 > 788
    assert placement.box.y2 <= A4.y2 - 3 * MM + 1e-6
    _clear_of_text(placement.box, page)


def test_copy_stamp_goes_below_a_heading_that_leaves_no_room_above() -> None:
    page = _page((MOTTO, (320, 780, 570, 810)))
    placement, size = top_right_placement(page, lines=3)
    assert size == 10.0
    assert placement.box.y2 < 780
    assert placement.box.y1 >= A4.y2 - STAMP_REACH * A4.height  # still at the top
    _clear_of_text(placement.box, page)


def test_copy_stamp_refuses_when_the_top_right_is_full() -> None:
    """Text all down the right column: the stamp must not go anywhere else (such as
    the free bottom of the page)."""
    page = _page(*((f"dòng {n}", (300, 560 + 14 * n, 590, 572 + 14 * n)) for n in range(20)))
    with pytest.raises(ValidationFailed, match="no free room"):
        top_right_placement(page, lines=2)


def test_copy_stamp_ignores_a_line_in_the_top_three_millimetres() -> None:
    page = _page(("trang 1", (500, 835, 560, 840)), (MOTTO, (320, 780, 570, 790)))
    placement, _size = top_right_placement(page, lines=2)
    assert placement.box.y1 > 790  # above the motto: "trang 1" does not close that band
    _covers_no_text(placement.box, page)


# --- explicit boxes ---------------------------------------------------------------------------


def test_check_free_refuses_a_box_off_the_page(letter_page: Page) -> None:
    for box in (Box(500, 100, 640, 160), Box(-5, 100, 100, 160), Box(100, 800, 200, 850)):
        with pytest.raises(ValidationFailed, match="off the page"):
            check_free(Placement(0, box), letter_page)


def test_check_free_refuses_a_box_over_text(letter_page: Page) -> None:
    body = _line(letter_page, "Trang 1/1.")
    over = Box(body.box.x1 + 5, body.box.y1 - 5, body.box.x2 + 40, body.box.y2 + 5)
    with pytest.raises(ValidationFailed, match="cover text on page 1") as raised:
        check_free(Placement(0, over), letter_page)
    assert raised.value.status == 422
    check_free(Placement(0, over), letter_page, allowed=(body,))  # unless it is allowed


def test_explicit_placement_in_a_free_area(letter_page: Page) -> None:
    free = Box(85, 400, 300, 460)
    assert explicit_placement(letter_page, free) == Placement(0, free)
    with pytest.raises(ValidationFailed):
        explicit_placement(letter_page, _line(letter_page, NAME).box)


# --- text -------------------------------------------------------------------------------------

ISO_VN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$")


def test_signing_time_text_is_iso_8601_in_vietnam_time() -> None:
    moment = datetime(2026, 11, 21, 2, 30, 0, 987654, tzinfo=UTC)
    assert signing_time_text(moment) == "2026-11-21T09:30:00+07:00"
    late = datetime(2026, 11, 21, 20, 15, 5, tzinfo=UTC)  # the next day in Hà Nội
    assert signing_time_text(late) == "2026-11-22T03:15:05+07:00"
    other = datetime(2026, 11, 21, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert signing_time_text(other) == "2026-11-21T21:30:00+07:00"
    assert ISO_VN.match(signing_time_text(datetime.now(UTC)))


def test_normalize_matches_nfd_and_nfc_vietnamese() -> None:
    nfc = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    assert normalize(nfd) == normalize(nfc) == normalize("  uỷ ban  nhân dân\ttỉnh nghệ an ")
    assert normalize("Nguyễn") != normalize("Nguyen")  # diacritics still count


def test_stamp_lines_per_profile() -> None:
    moment = datetime(2026, 11, 21, 2, 30, tzinfo=UTC)
    when = "2026-11-21T09:30:00+07:00"
    org = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN"
    assert stamp_lines(Profile.ORGANIZATION, org, moment) == [org, when]
    assert stamp_lines(Profile.COPY, org, moment) == [org, f"Thời gian ký: {when}"]
    assert stamp_lines(Profile.ATTACHMENT, org, moment, "15/UBND-VP") == [
        "Kèm theo văn bản số 15/UBND-VP",
        org,
        f"Thời gian ký: {when}",
    ]
    assert stamp_lines(Profile.ATTACHMENT, org, moment) == [org, f"Thời gian ký: {when}"]
    assert stamp_lines(Profile.PERSONAL, org, moment) == []

"""Where and how a signature shows on the page (Decree 30/2020/NĐ-CP, Appendix I). Pure.

- personal: the competent person's handwritten-signature image, in the gap
  between the signer's position and name lines.
- organization: the seal image at real size, covering about the left third of
  the personal signature image, with the organization name and signing time.
- copy and attachment: text only, at the top right of the first page, in a
  black frame, Times New Roman (here its metric twin) size 10.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from enum import Enum

from services.common.errors import ValidationFailed

VIETNAM = timezone(timedelta(hours=7), "ICT")
MM = 72 / 25.4  # PDF points per millimetre


class Profile(Enum):
    PERSONAL = "personal"
    ORGANIZATION = "organization"
    COPY = "copy"
    ATTACHMENT = "attachment"


@dataclass(frozen=True)
class Box:
    """A rectangle in PDF user space: (x1, y1) bottom left, (x2, y2) top right."""

    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if self.x2 <= self.x1 or self.y2 <= self.y1:
            raise ValidationFailed(f"an empty or inverted box: {self}")

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def centre_x(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def centre_y(self) -> float:
        return (self.y1 + self.y2) / 2

    def overlaps(self, other: Box, tolerance: float = 0.5) -> bool:
        return (
            self.x1 < other.x2 - tolerance
            and other.x1 < self.x2 - tolerance
            and self.y1 < other.y2 - tolerance
            and other.y1 < self.y2 - tolerance
        )

    def inside(self, other: Box) -> bool:
        return (
            self.x1 >= other.x1
            and self.y1 >= other.y1
            and self.x2 <= other.x2
            and self.y2 <= other.y2
        )

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (round(self.x1), round(self.y1), round(self.x2), round(self.y2))


@dataclass(frozen=True)
class TextLine:
    text: str
    box: Box


@dataclass(frozen=True)
class Page:
    index: int  # 0-based
    box: Box  # the visible page (CropBox)
    lines: tuple[TextLine, ...]


@dataclass(frozen=True)
class Placement:
    page: int  # 0-based
    box: Box


def normalize(text: str) -> str:
    """Compare Vietnamese text whatever its Unicode form, case or spacing."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def signing_time_text(moment: datetime) -> str:
    """ISO 8601 with the Vietnam offset, to the second: 2026-11-21T09:30:00+07:00."""
    return moment.astimezone(VIETNAM).replace(microsecond=0).isoformat()


def stamp_lines(
    profile: Profile, organization: str, moment: datetime, document_code: str | None = None
) -> list[str]:
    when = signing_time_text(moment)
    if profile is Profile.ORGANIZATION:
        return [organization, when]
    if profile is Profile.COPY:
        return [organization, f"Thời gian ký: {when}"]
    if profile is Profile.ATTACHMENT:
        code = [f"Kèm theo văn bản số {document_code}"] if document_code else []
        return [*code, organization, f"Thời gian ký: {when}"]
    return []


def _covered(box: Box, page: Page, allowed: tuple[TextLine, ...] = ()) -> list[str]:
    return [line.text for line in page.lines if line not in allowed and box.overlaps(line.box)]


def check_free(placement: Placement, page: Page, allowed: tuple[TextLine, ...] = ()) -> None:
    """A signature must never cover body text, nor leave the page."""
    if not placement.box.inside(page.box):
        raise ValidationFailed(f"the signature box {placement.box.as_tuple()} is off the page")
    covered = _covered(placement.box, page, allowed)
    if covered:
        shown = "; ".join(repr(t[:40]) for t in covered[:3])
        raise ValidationFailed(
            f"the signature would cover text on page {page.index + 1}: {shown}",
            [{"field": "box", "message": "choose a free area"}],
        )


def find_signer_block(page: Page, full_name: str) -> tuple[TextLine, TextLine]:
    """The signer's name line (the lowest match) and the text line just above it."""
    wanted = normalize(full_name)
    names = [line for line in page.lines if wanted and wanted in normalize(line.text)]
    if not names:
        raise ValidationFailed(
            f"the signer's name {full_name!r} is not on page {page.index + 1}; "
            "give the page and box explicitly"
        )
    name = min(names, key=lambda line: line.box.y1)
    above = [
        line
        for line in page.lines
        if line.box.y1 >= name.box.y2 - 0.5
        and line.box.x1 < name.box.x2
        and name.box.x1 < line.box.x2
    ]
    if not above:
        raise ValidationFailed("no position line above the signer's name; give the box")
    position = min(above, key=lambda line: line.box.y1)
    return position, name


def personal_placement(
    page: Page,
    full_name: str,
    image_aspect: float,
    max_width: float = 55 * MM,
    padding: float = 2.0,
) -> Placement:
    """The signature image in the gap between the position line and the name."""
    position, name = find_signer_block(page, full_name)
    gap = Box(
        min(position.box.x1, name.box.x1) - 40,
        name.box.y2 + padding,
        max(position.box.x2, name.box.x2) + 40,
        position.box.y1 - padding,
    )
    height = gap.height
    width = min(height * image_aspect, max_width)
    height = width / image_aspect
    if height < 8 * MM:
        raise ValidationFailed(
            f"only {gap.height / MM:.0f} mm between the position and the name; "
            "the signature image needs at least 8 mm (give the box explicitly)"
        )
    centre_x = name.box.centre_x
    box = Box(
        centre_x - width / 2,
        gap.centre_y - height / 2,
        centre_x + width / 2,
        gap.centre_y + height / 2,
    )
    placement = Placement(page.index, box)
    check_free(placement, page)
    return placement


def seal_placement(
    page: Page,
    personal: Box,
    seal_mm: tuple[float, float],
    caption_lines: int = 2,
    caption_size: float = 7.0,
) -> tuple[Placement, Box]:
    """The seal at real size over the left third of the personal signature, and its caption.

    Returns the whole field (seal + caption below it) and the seal's own box.
    The seal may cover the signer block (that is what a seal does); nothing else.
    """
    width, height = seal_mm[0] * MM, seal_mm[1] * MM
    right = personal.x1 + personal.width / 3
    seal = Box(right - width, personal.centre_y - height / 2, right, personal.centre_y + height / 2)
    caption_height = caption_lines * caption_size * 1.25 + 2
    field = replace(seal, y1=seal.y1 - caption_height)
    # The signer block: short lines around the personal signature (competence, position,
    # name). A line merely reaching into that area (the body's last line, running across
    # the page) is body text, and stays uncovered.
    around = Box(
        personal.x1 - width,
        personal.y1 - 30 * MM,
        personal.x2 + width,
        personal.y2 + 30 * MM,
    )
    signer_block = tuple(line for line in page.lines if line.box.inside(around))
    placement = Placement(page.index, field)
    check_free(placement, page, allowed=signer_block)
    return placement, seal


#: The least white space between a text stamp and any text (its ink, see ``_ink``).
STAMP_CLEARANCE = 2 * MM
#: How far down the first page a copy stamp may go looking for free space at the right.
STAMP_REACH = 0.3


def _ink(line: TextLine) -> Box:
    """Where a line's glyphs may reach: a text line's box stops at the font's ascent and
    descent, and Vietnamese capitals carry their marks above it (Ộ, Ẫ, Ữ)."""
    b = line.box
    return Box(b.x1, b.y1 - 0.15 * b.height, b.x2, b.y2 + 0.35 * b.height)


def top_right_placement(
    page: Page,
    lines: int,
    font_size: float = 10.0,
    width: float = 75 * MM,
    margin: float = 10 * MM,
    min_font: float = 7.0,
) -> tuple[Placement, float]:
    """The copy/attachment stamp box at the top right of the first page, and its font size.

    The stamp keeps ``STAMP_CLEARANCE`` of white space around it from any text's ink.
    Official documents start at the top margin with the national motto on the right, so
    when the preferred spot is taken the stamp goes in the widest free band of the right
    column within the top ``STAMP_REACH`` of the page (never closer than 3 mm to the top
    edge), centred in it: the top margin above the motto, or the space between the
    heading block and the body. Its text shrinks down to 7 pt where the room is short.
    """
    x1, x2 = page.box.x2 - margin - width, page.box.x2 - margin
    ceiling = page.box.y2 - 3 * MM
    lowest = page.box.y2 - STAMP_REACH * page.box.height
    gap = STAMP_CLEARANCE

    def needed(size: float) -> float:
        return lines * size * 1.3 + 8

    # Lines within the top 3 mm (a running header, a page number) are not in the way.
    column = sorted(
        (
            _ink(line)
            for line in page.lines
            if line.box.x1 < x2 + gap and x1 - gap < line.box.x2 and line.box.y1 < ceiling
        ),
        key=lambda ink: ink.y2,
        reverse=True,
    )

    def free(box: Box) -> bool:
        padded = Box(box.x1 - gap, box.y1 - gap, box.x2 + gap, box.y2 + gap)
        return box.inside(page.box) and not any(padded.overlaps(ink, 0) for ink in column)

    preferred = Box(x1, page.box.y2 - margin - needed(font_size), x2, page.box.y2 - margin)
    if free(preferred):
        return Placement(page.index, preferred), font_size
    # The free bands of the column, from the 3 mm limit down to the reach: a line that
    # crosses the limit leaves no band above it.
    bands: list[tuple[float, float]] = []
    top = ceiling
    for ink in column:
        if ink.y2 + gap < top - gap:
            bands.append((max(ink.y2 + gap, lowest), top - (gap if top < ceiling else 0)))
        top = min(top, ink.y1)
        if top <= lowest:
            break
    if top > lowest:
        bands.append((lowest, top - (gap if top < ceiling else 0)))
    for size in (font_size, min_font):
        fitting = [(lo, hi) for lo, hi in bands if hi - lo >= needed(size)]
        if fitting:
            lo, hi = fitting[0]  # the highest band that holds the stamp
            fit = min(font_size, (hi - lo - 8) / (lines * 1.3))
            middle = (lo + hi) / 2
            box = Box(x1, middle - needed(fit) / 2, x2, middle + needed(fit) / 2)
            if free(box):
                return Placement(page.index, box), fit
    raise ValidationFailed(
        f"no free room at the top right of page {page.index + 1} for the stamp; give the box",
        [{"field": "box", "message": "choose a free area"}],
    )


def explicit_placement(page: Page, box: Box) -> Placement:
    placement = Placement(page.index, box)
    check_free(placement, page)
    return placement

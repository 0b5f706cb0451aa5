"""What each Decree 30 profile draws inside its signature field. Pure layout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.common.errors import ValidationFailed
from services.signing.appearance import (
    MM,
    Box,
    Page,
    Placement,
    Profile,
    explicit_placement,
    personal_placement,
    seal_placement,
    stamp_lines,
    top_right_placement,
)
from services.signing.stampkit import Drawing, EmbeddedImage, ImageItem, TextItem, embedded_font

CAPTION_SIZE = 7.0
COPY_SIZE = 10.0  # Times New Roman 10, as Decree 30 asks for copies and attachments


@dataclass(frozen=True)
class Appearance:
    placement: Placement
    drawing: Drawing


def _fit(image: EmbeddedImage, width: float, height: float) -> tuple[float, float, float, float]:
    """The largest box of the image's aspect inside width × height, centred."""
    w = min(width, height * image.aspect)
    h = w / image.aspect
    return (width - w) / 2, (height - h) / 2, w, h


def personal(page: Page, image: EmbeddedImage, full_name: str, box: Box | None) -> Appearance:
    placement = (
        explicit_placement(page, box) if box else personal_placement(page, full_name, image.aspect)
    )
    b = placement.box
    x, y, w, h = _fit(image, b.width, b.height)
    return Appearance(placement, Drawing(b.width, b.height, images=(ImageItem(image, x, y, w, h),)))


def _shrunk(text: str, size: float, width: float, charset: str, bold: bool = False) -> float:
    font = embedded_font(charset, bold)
    natural = font.text_width(text, size)
    return size if natural <= width else max(4.0, size * width / natural)


def organization(
    page: Page,
    seal: EmbeddedImage,
    seal_mm: tuple[float, float],
    organization_name: str,
    moment: datetime,
    personal_box: Box | None,
    box: Box | None,
) -> Appearance:
    """The seal at real size over the left third of the personal signature, with a caption."""
    lines = stamp_lines(Profile.ORGANIZATION, organization_name, moment)
    if box is not None:
        placement = explicit_placement(page, box)
        # Real size when it fits; smaller when the box is narrower or lower than the seal
        # with its caption under it (never clipped, and the caption always shown).
        room = box.height - (len(lines) * CAPTION_SIZE * 1.25 + 2)
        if room <= 0:
            raise ValidationFailed(
                "the box is too low for the seal and its caption",
                [{"field": "box", "message": "make the box taller"}],
            )
        scale = min(1.0, box.width / (seal_mm[0] * MM), room / (seal_mm[1] * MM))
        seal_w, seal_h = seal_mm[0] * MM * scale, seal_mm[1] * MM * scale
    elif personal_box is not None:
        placement, seal_box = seal_placement(
            page, personal_box, seal_mm, caption_lines=len(lines), caption_size=CAPTION_SIZE
        )
        seal_w, seal_h = seal_box.width, seal_box.height
    else:
        raise ValueError("an organization signature needs the personal signature's box or a box")
    b = placement.box
    caption = b.height - seal_h
    texts = []
    for i, line in enumerate(lines):
        size = _shrunk(line, CAPTION_SIZE, b.width, organization_name)
        texts.append(
            TextItem(line, b.width / 2, caption - (i + 1) * CAPTION_SIZE * 1.2, size, centred=True)
        )
    drawing = Drawing(
        b.width,
        b.height,
        images=(ImageItem(seal, (b.width - seal_w) / 2, caption, seal_w, seal_h),),
        texts=tuple(t for t in texts if t.y > 0),
        charset=organization_name,
    )
    return Appearance(placement, drawing)


def text_only(
    page: Page,
    profile: Profile,
    organization_name: str,
    moment: datetime,
    document_code: str | None,
    box: Box | None,
) -> Appearance:
    """Copies and attachments: a framed text stamp at the top right of the first page."""
    lines = stamp_lines(profile, organization_name, moment, document_code)
    if box is not None:
        placement = explicit_placement(page, box)
        # As top_right_placement does: shrink to fit the box's height, down to 7 pt.
        font_size = min(COPY_SIZE, (box.height - 8) / (len(lines) * 1.3))
        if font_size < 7.0:
            raise ValidationFailed(
                "the box is too low for the stamp's text",
                [{"field": "box", "message": "make the box taller"}],
            )
    else:
        placement, font_size = top_right_placement(page, len(lines), COPY_SIZE)
    b = placement.box
    charset = organization_name + (document_code or "")
    pad = 4.0
    texts = []
    for i, line in enumerate(lines):
        size = _shrunk(line, font_size, b.width - 2 * pad, charset)
        texts.append(TextItem(line, pad, b.height - pad - (i + 1) * font_size * 1.25 + 2, size))
    return Appearance(
        placement, Drawing(b.width, b.height, texts=tuple(texts), frame_width=0.8, charset=charset)
    )

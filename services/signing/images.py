"""Appearance images drawn by the platform for demos and tests.

Real deployments register each agency's scanned seal and each leader's
handwritten signature; these stand in for them with the properties Decree 30
asks for: transparent PNG, the seal red and round, the signature blue.
"""

from __future__ import annotations

import io
import math
import random
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
SEAL_RED = (218, 31, 38, 255)
INK_BLUE = (18, 46, 160, 255)
DPI = 300
# Round seals of state agencies are about 35-42 mm across.
SEAL_DIAMETER_MM = 36.0


def mm_to_px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "LTSerif-Bold.ttf" if bold else "LTSerif-Regular.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI), optimize=True)
    return out.getvalue()


def _text_on_circle(
    canvas: Image.Image, text: str, centre: float, radius: float, size: int
) -> None:
    """Letters around the top of the rim, upright to a reader turning the seal."""
    face = font(size, bold=True)
    widths = [face.getlength(ch) for ch in text]
    spacing = size * 0.12
    total = sum(widths) + spacing * (len(text) - 1)
    # Arc length → angle; the text is centred on the top of the circle.
    span = min(total / radius, math.radians(300))
    scale = span / (total / radius)
    angle = -math.pi / 2 - span / 2
    for ch, width in zip(text, widths, strict=True):
        step = (width * scale) / radius
        mid = angle + step / 2
        glyph = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((size, size), ch, font=face, fill=SEAL_RED, anchor="mm")
        rotated = glyph.rotate(-math.degrees(mid) - 90, resample=Image.Resampling.BICUBIC)
        x = centre + radius * math.cos(mid) - rotated.width / 2
        y = centre + radius * math.sin(mid) - rotated.height / 2
        canvas.alpha_composite(rotated, (round(x), round(y)))
        angle += step + (spacing * scale) / radius


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float) -> None:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.38
        a = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    draw.polygon(points, fill=SEAL_RED)


def draw_seal(
    agency_name: str,
    agency_code: str = "",
    diameter_mm: float = SEAL_DIAMETER_MM,
    supersample: int = 2,
) -> bytes:
    """A red round seal: two rims, the agency's name around the top, a star, the code."""
    size = mm_to_px(diameter_mm) * supersample
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c = size / 2
    outer = size / 2 - size * 0.01
    draw.ellipse(
        (c - outer, c - outer, c + outer, c + outer), outline=SEAL_RED, width=round(size * 0.028)
    )
    inner = outer * 0.66
    draw.ellipse(
        (c - inner, c - inner, c + inner, c + inner), outline=SEAL_RED, width=round(size * 0.012)
    )
    text_size = round(size * 0.085)
    _text_on_circle(
        image, agency_name.upper(), c, (outer + inner) / 2 - text_size * 0.05, text_size
    )
    _star(draw, c, c - inner * 0.18, inner * 0.42)
    if agency_code:
        draw.text(
            (c, c + inner * 0.5),
            agency_code,
            font=font(round(size * 0.05), bold=True),
            fill=SEAL_RED,
            anchor="mm",
        )
    if supersample > 1:
        image = image.resize((size // supersample, size // supersample), Image.Resampling.LANCZOS)
    return _png(image)


def draw_signature(
    full_name: str, width_mm: float = 40.0, height_mm: float = 16.0, supersample: int = 2
) -> bytes:
    """A blue, handwritten-looking stroke, repeatable for the same name."""
    w, h = mm_to_px(width_mm) * supersample, mm_to_px(height_mm) * supersample
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    rng = random.Random(full_name)
    stroke = max(2, round(h * 0.035))
    # A looping cursive line: a sum of sines whose phases come from the name.
    loops = 4 + len(full_name.split())
    phases = [rng.uniform(0, math.tau) for _ in range(3)]
    points = []
    steps = 400
    for i in range(steps + 1):
        t = i / steps
        x = w * (0.06 + 0.78 * t) + w * 0.035 * math.sin(loops * math.tau * t + phases[0])
        y = (
            h * 0.55
            + h * 0.22 * math.sin(loops * math.tau * t + phases[1]) * math.sin(math.pi * t)
            + h * 0.08 * math.sin(2 * math.tau * t + phases[2])
        )
        points.append((x, y))
    draw.line(points, fill=INK_BLUE, width=stroke, joint="curve")
    # The final flourish underneath.
    draw.arc(
        (w * 0.2, h * 0.55, w * 0.98, h * 0.95), start=200, end=340, fill=INK_BLUE, width=stroke
    )
    if supersample > 1:
        image = image.resize((w // supersample, h // supersample), Image.Resampling.LANCZOS)
    return _png(image)


def png_size_mm(png: bytes) -> tuple[float, float]:
    """The real size an image declares (its DPI), in millimetres."""
    with Image.open(io.BytesIO(png)) as image:
        dpi = image.info.get("dpi", (DPI, DPI))
        return image.width / float(dpi[0]) * 25.4, image.height / float(dpi[1]) * 25.4


def check_png(png: bytes, *, role: str) -> None:
    """An appearance image must be a PNG with transparency."""
    from services.common.errors import ValidationFailed

    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG":
                raise ValidationFailed(f"the {role} image must be a PNG")
            if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
                raise ValidationFailed(f"the {role} image needs a transparent background")
    except ValidationFailed:
        raise
    except Exception as e:
        raise ValidationFailed(f"the {role} image cannot be read: {e}") from e

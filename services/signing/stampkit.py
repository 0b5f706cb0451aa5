"""Signature appearances built from parts encoded once and reused.

pyHanko's stock stamps load and subset the TrueType font and recompress the
images for every signature (~80 ms). Here a font subset (a Type0/CIDFontType2
font with Identity-H encoding and a ToUnicode map) and each image (an image
XObject with its soft mask) are encoded once and cached; a signature only
copies those ready streams into its document and writes a short content stream.
Text is mapped through the font's cmap, so it must be NFC (Vietnamese letters
are precomposed glyphs in the font).
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

FONT_DIR = Path(__file__).resolve().parent / "fonts"
REGULAR = FONT_DIR / "LTSerif-Regular.ttf"
BOLD = FONT_DIR / "LTSerif-Bold.ttf"
# What any stamp may need besides the organization's own name.
BASE_CHARSET = (
    " 0123456789:+-–.,/()TZ"
    "Thời gian ký:Kèm theo văn bản số"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class EmbeddedFont:
    """A font subset ready to embed: every stream already compressed."""

    base_name: str
    font_file: bytes  # FlateDecode'd TrueType subset
    to_unicode: bytes  # FlateDecode'd CMap
    gids: dict[str, int]
    widths: dict[int, int]  # glyph id → advance, in 1/1000 em
    ascent: int
    descent: int
    cap_height: int
    bbox: tuple[int, int, int, int]

    def encode(self, text: str) -> bytes:
        missing = {c for c in nfc(text) if c not in self.gids}
        if missing:
            raise KeyError(f"the stamp font subset lacks {''.join(sorted(missing))!r}")
        return b"<" + "".join(f"{self.gids[c]:04X}" for c in nfc(text)).encode() + b">"

    def text_width(self, text: str, size: float) -> float:
        return sum(self.widths.get(self.gids.get(c, 0), 500) for c in nfc(text)) * size / 1000

    def add_to(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        file_stream = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode")}, encoded_data=self.font_file
        )
        descriptor = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/FontDescriptor"),
                pdf_name("/FontName"): pdf_name("/" + self.base_name),
                pdf_name("/Flags"): generic.NumberObject(6),  # serif, symbolic
                pdf_name("/FontBBox"): generic.ArrayObject(map(generic.NumberObject, self.bbox)),
                pdf_name("/ItalicAngle"): generic.NumberObject(0),
                pdf_name("/Ascent"): generic.NumberObject(self.ascent),
                pdf_name("/Descent"): generic.NumberObject(self.descent),
                pdf_name("/CapHeight"): generic.NumberObject(self.cap_height),
                pdf_name("/StemV"): generic.NumberObject(80),
                pdf_name("/FontFile2"): writer.add_object(file_stream),
            }
        )
        widths = generic.ArrayObject()
        for gid in sorted(self.widths):
            widths.append(generic.NumberObject(gid))
            widths.append(generic.ArrayObject([generic.NumberObject(self.widths[gid])]))
        cid_font = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/CIDFontType2"),
                pdf_name("/BaseFont"): pdf_name("/" + self.base_name),
                pdf_name("/CIDSystemInfo"): generic.DictionaryObject(
                    {
                        pdf_name("/Registry"): generic.TextStringObject("Adobe"),
                        pdf_name("/Ordering"): generic.TextStringObject("Identity"),
                        pdf_name("/Supplement"): generic.NumberObject(0),
                    }
                ),
                pdf_name("/FontDescriptor"): writer.add_object(descriptor),
                pdf_name("/W"): widths,
                pdf_name("/CIDToGIDMap"): pdf_name("/Identity"),
            }
        )
        to_unicode = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode")}, encoded_data=self.to_unicode
        )
        return writer.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Font"),
                    pdf_name("/Subtype"): pdf_name("/Type0"),
                    pdf_name("/BaseFont"): pdf_name("/" + self.base_name),
                    pdf_name("/Encoding"): pdf_name("/Identity-H"),
                    pdf_name("/DescendantFonts"): generic.ArrayObject(
                        [writer.add_object(cid_font)]
                    ),
                    pdf_name("/ToUnicode"): writer.add_object(to_unicode),
                }
            )
        )


def _to_unicode_cmap(gids: dict[str, int]) -> bytes:
    entries = sorted((gid, char) for char, gid in gids.items())
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    for start in range(0, len(entries), 100):
        chunk = entries[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines.extend(
            f"<{gid:04X}> <{char.encode('utf-16-be').hex().upper()}>" for gid, char in chunk
        )
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()


@lru_cache(maxsize=64)
def embedded_font(charset: str, bold: bool = False) -> EmbeddedFont:
    """Subset the stamp font to ``charset`` (plus the base set) once per distinct charset."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    chars = sorted(set(nfc(charset + BASE_CHARSET)))
    options = subset.Options()
    options.layout_features = []  # no shaping: precomposed glyphs only
    options.notdef_outline = True
    options.name_IDs = ["*"]
    font = TTFont(str(BOLD if bold else REGULAR))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    cmap = font.getBestCmap()
    order = font.getGlyphOrder()
    gid_of = {name: i for i, name in enumerate(order)}
    gids = {c: gid_of[cmap[ord(c)]] for c in chars if ord(c) in cmap}
    hmtx = font["hmtx"]
    scale = 1000 / font["head"].unitsPerEm
    widths = {gid: round(hmtx[order[gid]][0] * scale) for gid in set(gids.values())}
    out = io.BytesIO()
    font.save(out)
    digest = hashlib.sha256(out.getvalue()).hexdigest()[:6].upper()
    tag = "".join(chr(ord("A") + int(c, 16) % 26) for c in digest)
    head, os2 = font["head"], font["OS/2"]
    return EmbeddedFont(
        base_name=f"{tag}+LTSerif-{'Bold' if bold else 'Regular'}",
        font_file=zlib.compress(out.getvalue(), 6),
        to_unicode=zlib.compress(_to_unicode_cmap(gids), 6),
        gids=gids,
        widths=widths,
        ascent=round(os2.sTypoAscender * scale),
        descent=round(os2.sTypoDescender * scale),
        cap_height=round(getattr(os2, "sCapHeight", 662) * scale),
        bbox=(
            round(head.xMin * scale),
            round(head.yMin * scale),
            round(head.xMax * scale),
            round(head.yMax * scale),
        ),
    )


@dataclass(frozen=True)
class EmbeddedImage:
    width: int
    height: int
    rgb: bytes  # FlateDecode'd 8-bit RGB samples
    alpha: bytes | None  # FlateDecode'd 8-bit soft mask

    @property
    def aspect(self) -> float:
        return self.width / self.height

    def add_to(self, writer: BasePdfFileWriter) -> generic.IndirectObject:
        common = {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(self.width),
            pdf_name("/Height"): generic.NumberObject(self.height),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
        }
        image = generic.DictionaryObject(
            {**common, pdf_name("/ColorSpace"): pdf_name("/DeviceRGB")}
        )
        if self.alpha is not None:
            mask = generic.StreamObject(
                generic.DictionaryObject(
                    {**common, pdf_name("/ColorSpace"): pdf_name("/DeviceGray")}
                ),
                encoded_data=self.alpha,
            )
            image[pdf_name("/SMask")] = writer.add_object(mask)
        return writer.add_object(generic.StreamObject(image, encoded_data=self.rgb))


def _embed_image(png: bytes) -> EmbeddedImage:
    with Image.open(io.BytesIO(png)) as source:
        rgba = source.convert("RGBA")
    rgb = rgba.convert("RGB").tobytes()
    alpha = rgba.getchannel("A").tobytes()
    return EmbeddedImage(rgba.width, rgba.height, zlib.compress(rgb, 6), zlib.compress(alpha, 6))


@lru_cache(maxsize=256)
def _embedded_image_by_hash(_digest: str, png: bytes) -> EmbeddedImage:
    return _embed_image(png)


def embedded_image(png: bytes) -> EmbeddedImage:
    return _embedded_image_by_hash(hashlib.sha256(png).hexdigest(), png)


# --- drawing ---------------------------------------------------------------


@dataclass(frozen=True)
class ImageItem:
    image: EmbeddedImage
    x: float  # in the appearance's own coordinates (origin: the field's bottom left)
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class TextItem:
    text: str
    x: float
    y: float  # baseline
    size: float
    bold: bool = False
    centred: bool = False


@dataclass(frozen=True)
class Drawing:
    """Everything an appearance shows; coordinates relative to the field box."""

    width: float
    height: float
    images: tuple[ImageItem, ...] = ()
    texts: tuple[TextItem, ...] = ()
    frame_width: float = 0.0  # a black frame, as Decree 30 asks of text-only stamps
    charset: str = ""


class KitStampStyle(BaseStampStyle):
    """A pyHanko stamp style drawing a prepared Drawing from cached parts."""

    def __init__(self, drawing: Drawing) -> None:
        super().__init__(border_width=0, background=None)
        object.__setattr__(self, "drawing", drawing)

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, object]
    ) -> KitStamp:
        return KitStamp(writer, self, box)


class KitStamp(BaseStamp):
    def __init__(
        self, writer: BasePdfFileWriter, style: KitStampStyle, box: layout.BoxConstraints
    ) -> None:
        drawing: Drawing = style.drawing  # type: ignore[attr-defined]
        super().__init__(
            writer=writer,
            style=style,
            box=layout.BoxConstraints(width=drawing.width, height=drawing.height),
        )
        self.drawing = drawing

    def _render_inner_content(self) -> list[bytes]:
        drawing = self.drawing
        writer = self.writer
        assert writer is not None
        ops: list[bytes] = []
        for i, item in enumerate(drawing.images):
            name = f"/Im{i}"
            self.set_resource(ResourceType.XOBJECT, pdf_name(name), item.image.add_to(writer))
            ops.append(
                b"q %.3f 0 0 %.3f %.3f %.3f cm %s Do Q"
                % (item.width, item.height, item.x, item.y, name.encode())
            )
        fonts: dict[bool, tuple[str, EmbeddedFont]] = {}
        for text in drawing.texts:
            if text.bold not in fonts:
                font = embedded_font(drawing.charset, text.bold)
                name = f"/F{len(fonts)}"
                self.set_resource(ResourceType.FONT, pdf_name(name), font.add_to(writer))
                fonts[text.bold] = (name, font)
            name, font = fonts[text.bold]
            x = text.x - font.text_width(text.text, text.size) / 2 if text.centred else text.x
            ops.append(
                b"BT 0 g %s %.2f Tf %.3f %.3f Td %s Tj ET"
                % (name.encode(), text.size, x, text.y, font.encode(text.text))
            )
        if drawing.frame_width:
            w = drawing.frame_width
            ops.append(
                b"q 0 G %.2f w %.3f %.3f %.3f %.3f re S Q"
                % (w, w / 2, w / 2, drawing.width - w, drawing.height - w)
            )
        return ops

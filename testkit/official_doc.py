"""A Vietnamese official letter (công văn) laid out as Decree 30 describes, for tests."""

from __future__ import annotations

import io
from pathlib import Path

FONT_DIR = Path(__file__).resolve().parents[1] / "services" / "signing" / "fonts"


def official_letter(
    *,
    organization: str = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN",
    position: str = "CHỦ TỊCH",
    full_name: str = "Nguyễn Văn An",
    pages: int = 1,
    padding_bytes: int = 0,
    number: int = 15,
    subject: str = "V/v triển khai văn bản điện tử",
) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    for name, file in (("LT", "LTSerif-Regular.ttf"), ("LTB", "LTSerif-Bold.ttf")):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / file)))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=True)
    width, height = A4
    for page in range(1, pages + 1):
        c.setFont("LTB", 12)
        c.drawCentredString(150, height - 70, organization)
        c.drawCentredString(width - 150, height - 70, "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        c.setFont("LTB", 13)
        c.drawCentredString(width - 150, height - 86, "Độc lập - Tự do - Hạnh phúc")
        c.setFont("LT", 13)
        c.drawCentredString(150, height - 92, f"Số: {number}/UBND-VP")
        c.drawCentredString(width - 150, height - 110, "Nghệ An, ngày 21 tháng 11 năm 2026")
        c.setFont("LT", 12)
        c.drawCentredString(150, height - 112, subject)
        c.setFont("LT", 14)
        y = height - 170
        body = (
            "Thực hiện chủ trương của Chính phủ về chuyển đổi số, Uỷ ban nhân dân tỉnh "
            "đề nghị các sở, ban, ngành gửi nhận văn bản điện tử có ký số theo quy định "
            "tại Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ."
        )
        words, line = body.split(), ""
        for word in words:
            if c.stringWidth(line + " " + word, "LT", 14) > width - 170:
                c.drawString(85, y, line.strip())
                y -= 20
                line = ""
            line += " " + word
        c.drawString(85, y, line.strip())
        c.drawString(85, y - 20, f"Trang {page}/{pages}.")
        if page == pages:
            c.setFont("LTB", 12)
            c.drawString(85, 300, "Nơi nhận:")
            c.setFont("LT", 11)
            c.drawString(85, 285, "- Như trên;")
            c.drawString(85, 271, "- Lưu: VT.")
            c.setFont("LTB", 13)
            c.drawCentredString(width - 150, 300, "TM. UỶ BAN NHÂN DÂN")
            c.drawCentredString(width - 150, 284, position)
            c.drawCentredString(width - 150, 190, full_name)
        c.showPage()
    c.save()
    data = out.getvalue()
    if padding_bytes:
        data = pad_pdf(data, padding_bytes)
    return data


def pad_pdf(pdf: bytes, extra: int) -> bytes:
    """Grow a PDF by ``extra`` bytes of incompressible data in an unused stream object."""
    import os

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    stream = generic.StreamObject(stream_data=os.urandom(extra))
    ref = writer.add_object(stream)
    writer.root["/LTPadding"] = ref
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()

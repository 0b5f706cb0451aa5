"""The printable quarterly report of an agency's e-document share, in Vietnamese: the
figures, a chart of the months, the ranking of the agencies below it and the list of
overdue work. What an inspection team takes on a visit. Pure: answers in, PDF out.

Drawn with ReportLab (charts as vector graphics, no browser, no network), in LT Serif
(Liberation Serif, metric-compatible with Times New Roman; SIL OFL, ``fonts/OFL.txt``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from services.common.contract import Reason
from services.common.internal_api import EShareAnswer, EShareFigures, EShareOverduePage

FONTS = Path(__file__).resolve().parent.parent / "fonts"
REGULAR, BOLD = "LTSerif", "LTSerif-Bold"
VIETNAM = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class QuarterReport:
    year: int
    quarter: int
    totals: EShareAnswer  # include_children
    months: EShareAnswer  # group_by=month
    ranking: EShareAnswer  # group_by=agency
    overdue: EShareOverduePage
    printed: date


def quarter_period(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * (quarter - 1) + 1, 1)
    following = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, following - timedelta(days=1)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%".replace(".", ",")


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"≤ {max(seconds // 60, 1)} phút" if seconds >= 60 else f"≤ {seconds} giây"
    if seconds < 86400:
        return f"≤ {seconds // 3600} giờ"
    return f"≤ {seconds // 86400} ngày"


def local_time(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(VIETNAM):%H:%M %d/%m/%Y}"


def local_day(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(VIETNAM):%d/%m/%Y}" if iso else "—"


def ranked(answer: EShareAnswer) -> list[dict[str, Any]]:
    """The agencies below the one reported on, best share first (those that sent
    nothing last), then by code."""
    rows = [dict(r) for r in answer["rows"] if r["group"] != answer["agency"]]
    return sorted(
        rows,
        key=lambda r: (r["share"] is None, -(r["share"] or 0.0), -r["exchanges"], r["group"]),
    )


def _fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(FONTS / "LTSerif-Regular.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(FONTS / "LTSerif-Bold.ttf")))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD)


def _chart(months: EShareAnswer) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    rows = months["rows"]
    labels = [f"Tháng {r['group'][5:].lstrip('0')}/{r['group'][:4]}" for r in rows]
    drawing = Drawing(480, 190)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 45, 35, 300, 130
    chart.data = [
        [round((r["share"] or 0) * 100, 1) for r in rows] or [0],
        [round((r["signed_share"] or 0) * 100, 1) for r in rows] or [0],
        [round((r["on_time_share"] or 0) * 100, 1) for r in rows] or [0],
    ]
    chart.categoryAxis.categoryNames = labels or ["—"]
    chart.categoryAxis.labels.fontName = REGULAR
    chart.categoryAxis.labels.fontSize = 9
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 100, 20
    chart.valueAxis.labels.fontName = REGULAR
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.labelTextFormat = "%d%%"
    chart.barSpacing, chart.groupSpacing = 1, 12
    palette = (colors.HexColor("#1f5fa8"), colors.HexColor("#c0392b"), colors.HexColor("#2e8b57"))
    for index, colour in enumerate(palette):
        chart.bars[index].fillColor = colour
        chart.bars[index].strokeColor = None
    chart.barLabels.fontName = REGULAR
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 6
    chart.barLabelFormat = "%.0f"
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 360, 150
    legend.fontName, legend.fontSize = REGULAR, 9
    legend.alignment = "right"
    legend.colorNamePairs = list(
        zip(
            palette,
            ("Tỷ lệ hoàn toàn điện tử", "Tỷ lệ ký số cơ quan", "Tỷ lệ xử lý đúng hạn"),
            strict=True,
        )
    )
    drawing.add(legend)
    drawing.add(String(45, 175, "Theo tháng (%)", fontName=BOLD, fontSize=10))
    return drawing


def _figure_rows(f: EShareFigures) -> list[list[str]]:
    return [
        ["Tổng số văn bản đã gửi", f"{f['exchanges']:,}".replace(",", ".")],
        ["Văn bản hoàn toàn điện tử", f"{f['fully_electronic']:,}".replace(",", ".")],
        ["Tỷ lệ văn bản hoàn toàn điện tử", percent(f["share"])],
        ["Tỷ lệ văn bản có chữ ký số của cơ quan", percent(f["signed_share"])],
        ["Văn bản đã thu hồi / thay thế", str(f["taken_back"])],
        ["Văn bản đến hạn xử lý trong kỳ", str(f["due"])],
        ["Tỷ lệ xử lý đúng hạn", percent(f["on_time_share"])],
        ["Quá hạn chưa hoàn thành", str(f["overdue"])],
        [
            "Thời gian chuyển đến (gửi → đến), trung vị / p95",
            f"{duration(f['latency_sent_to_arrived']['p50'])} / "
            f"{duration(f['latency_sent_to_arrived']['p95'])}",
        ],
        [
            "Thời gian vào sổ (đến → tiếp nhận), trung vị / p95",
            f"{duration(f['latency_arrived_to_registered']['p50'])} / "
            f"{duration(f['latency_arrived_to_registered']['p95'])}",
        ],
    ]


def _reason_rows(f: EShareFigures) -> list[list[str]]:
    """Each reason met, most frequent first: its label, how many, the share of those sent."""
    counted = f.get("reasons") or {}
    found = [(r, n) for r in Reason if (n := counted.get(r.value, 0))]
    found.sort(key=lambda item: -item[1])
    sent = f["exchanges"]
    return [
        [r.vi, f"{n:,}".replace(",", "."), percent(n / sent if sent else None)] for r, n in found
    ]


def render_report(report: QuarterReport) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _fonts()
    base = ParagraphStyle("base", fontName=REGULAR, fontSize=10.5, leading=13)
    small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=10.5)
    title = ParagraphStyle(
        "title", parent=base, fontName=BOLD, fontSize=15, leading=19, alignment=1
    )
    centre = ParagraphStyle("centre", parent=base, alignment=1)
    heading = ParagraphStyle(
        "heading", parent=base, fontName=BOLD, fontSize=12, spaceBefore=8, spaceAfter=4
    )
    totals = report.totals
    start, end = quarter_period(report.year, report.quarter)
    name = totals["name"] or totals["agency"]
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), REGULAR, 9.5),
            ("FONT", (0, 0), (-1, 0), BOLD, 9.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story: list[Any] = [
        Paragraph(
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", ParagraphStyle("n", parent=centre, fontName=BOLD)
        ),
        Paragraph("Độc lập - Tự do - Hạnh phúc", centre),
        Spacer(1, 6 * mm),
        Paragraph(f"BÁO CÁO TỶ LỆ VĂN BẢN ĐIỆN TỬ QUÝ {report.quarter}/{report.year}", title),
        Paragraph(f"{name} ({totals['agency']}) và các cơ quan trực thuộc", centre),
        Paragraph(
            f"Kỳ báo cáo: {start:%d/%m/%Y} – {end:%d/%m/%Y} (giờ Việt Nam). "
            f"Số cơ quan được tính: {len(totals['agencies'])}.",
            centre,
        ),
        Spacer(1, 3 * mm),
        Paragraph(
            "Văn bản hoàn toàn điện tử: văn bản điện tử gốc (không phải bản quét), "
            "có chữ ký số hợp lệ của cơ quan ban hành, gửi qua hệ thống, không gửi kèm "
            "bản giấy và mọi nơi nhận đã vào sổ trên hệ thống. Đúng hạn, quá hạn: văn bản "
            "gửi đến các cơ quan trên, đến hạn trong kỳ. Thời gian là cận trên của khoảng đo.",
            small,
        ),
        Paragraph("1. Số liệu tổng hợp", heading),
    ]
    figures = Table(
        [["Chỉ tiêu", "Giá trị"], *_figure_rows(totals["totals"])], colWidths=[120 * mm, 50 * mm]
    )
    figures.setStyle(grid)
    story += [figures, Spacer(1, 3 * mm)]
    why = _reason_rows(totals["totals"])
    if why:
        story.append(
            Paragraph(
                "Văn bản chưa hoàn toàn điện tử, theo lý do (một văn bản có thể có nhiều lý do):",
                base,
            )
        )
        reasons = Table(
            [["Lý do", "Số văn bản", "Tỷ lệ"], *why], colWidths=[120 * mm, 25 * mm, 25 * mm]
        )
        reasons.setStyle(grid)
        reasons.setStyle(TableStyle([("ALIGN", (1, 1), (-1, -1), "RIGHT")]))
        story += [reasons, Spacer(1, 3 * mm)]
    story += [
        Paragraph("2. Diễn biến theo tháng", heading),
        _chart(report.months),
    ]
    story.append(Paragraph("3. Xếp hạng các cơ quan trực thuộc", heading))
    ranking = ranked(report.ranking)
    if ranking:
        data: list[list[Any]] = [
            ["Hạng", "Cơ quan", "Số VB", "Điện tử", "Ký số", "Đúng hạn", "Quá hạn"]
        ]
        for place, row in enumerate(ranking, start=1):
            data.append(
                [
                    str(place) if row["exchanges"] else "—",
                    Paragraph(
                        f"{row.get('name', row['group'])}<br/><font size=7.5>{row['group']}</font>",
                        small,
                    ),
                    str(row["exchanges"]),
                    percent(row["share"]),
                    percent(row["signed_share"]),
                    percent(row["on_time_share"]),
                    str(row["overdue"]),
                ]
            )
        table = Table(
            data,
            colWidths=[12 * mm, 72 * mm, 16 * mm, 18 * mm, 18 * mm, 18 * mm, 16 * mm],
            repeatRows=1,
        )
        table.setStyle(grid)
        table.setStyle(
            TableStyle([("ALIGN", (2, 1), (-1, -1), "RIGHT"), ("ALIGN", (0, 1), (0, -1), "CENTER")])
        )
        story.append(table)
    else:
        story.append(Paragraph("Không có cơ quan trực thuộc.", base))
    overdue = report.overdue
    overdue_total = overdue["total"] or 0  # the report always asks for the count
    story.append(Paragraph(f"4. Văn bản quá hạn chưa hoàn thành ({overdue_total})", heading))
    if overdue["overdue"]:
        data = [["Số, ký hiệu / trích yếu", "Nơi phải xử lý", "Hạn xử lý", "Quá (ngày)"]]
        for item in overdue["overdue"]:
            data.append(
                [
                    Paragraph(f"{item['document_id']}<br/>{item['subject']}", small),
                    item["OrganId"],
                    local_day(item["due_at"]),
                    str(item["overdue_days"]),
                ]
            )
        table = Table(data, colWidths=[92 * mm, 32 * mm, 26 * mm, 20 * mm], repeatRows=1)
        table.setStyle(grid)
        story.append(table)
        if overdue_total > len(overdue["overdue"]):
            story.append(
                Paragraph(f"… và {overdue_total - len(overdue['overdue'])} văn bản khác.", small)
            )
    else:
        story.append(Paragraph("Không có văn bản quá hạn.", base))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, 8)
        canvas.drawString(
            20 * mm,
            10 * mm,
            f"Liên Thông — báo cáo in ngày {report.printed:%d/%m/%Y}, "
            f"số liệu tính đến {local_time(totals['as_of'])} (giờ Việt Nam)",
        )
        canvas.drawRightString(190 * mm, 10 * mm, f"Trang {doc.page}")
        canvas.restoreState()

    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=f"Báo cáo tỷ lệ văn bản điện tử quý {report.quarter}/{report.year} — {name}",
        author="Liên Thông",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()

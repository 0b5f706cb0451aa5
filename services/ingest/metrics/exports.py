"""The e-share figures and exchanges as CSV (UTF-8 with a BOM, so that spreadsheet
programs read Vietnamese right) and XLSX (openpyxl). Pure: answers in, bytes out."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from services.common.contract import Reason
from services.common.internal_api import EShareAnswer, EShareExchange, EShareFigures

CSV = "text/csv; charset=utf-8"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: Each column of the figures: its header (Vietnamese) and how to read it.
FIGURE_COLUMNS: tuple[tuple[str, Callable[[EShareFigures], Any]], ...] = (
    ("Tổng số văn bản gửi", lambda f: f["exchanges"]),
    ("Hoàn toàn điện tử", lambda f: f["fully_electronic"]),
    ("Tỷ lệ hoàn toàn điện tử", lambda f: f["share"]),
    ("Có chữ ký số cơ quan", lambda f: f["signed"]),
    ("Tỷ lệ ký số", lambda f: f["signed_share"]),
    ("Đã thu hồi/thay thế", lambda f: f["taken_back"]),
    ("Đến hạn xử lý", lambda f: f["due"]),
    ("Đúng hạn", lambda f: f["on_time"]),
    ("Trễ hạn", lambda f: f["late"]),
    ("Tỷ lệ đúng hạn", lambda f: f["on_time_share"]),
    ("Quá hạn chưa xử lý", lambda f: f["overdue"]),
    ("Gửi → đến, p50 (giây)", lambda f: f["latency_sent_to_arrived"]["p50"]),
    ("Gửi → đến, p95 (giây)", lambda f: f["latency_sent_to_arrived"]["p95"]),
    ("Đến → vào sổ, p50 (giây)", lambda f: f["latency_arrived_to_registered"]["p50"]),
    ("Đến → vào sổ, p95 (giây)", lambda f: f["latency_arrived_to_registered"]["p95"]),
    *(
        (f"Lý do: {r.vi}", lambda f, code=r.value: (f.get("reasons") or {}).get(code, 0))
        for r in Reason
    ),
)

EXCHANGE_HEADERS = (
    "Mã văn bản (DocumentId)",
    "Cơ quan gửi",
    "Trích yếu",
    "Thời điểm gửi",
    "Ngày gửi (giờ Việt Nam)",
    "Hoàn toàn điện tử",
    "Ký số cơ quan",
    "Bản quét",
    "Gửi kèm bản giấy",
    "Nơi nhận",
    "Mã lý do",
    "Lý do",
)


def _yes(value: bool | None) -> str:
    return "" if value is None else ("có" if value else "không")


def figure_table(answer: EShareAnswer) -> tuple[list[str], list[list[Any]]]:
    """The header and rows: one per group when grouped, else one for the totals."""
    first = "Cơ quan" if answer["group_by"] == "agency" else "Kỳ"
    header = [first, *(name for name, _ in FIGURE_COLUMNS)]
    rows: list[list[Any]] = []
    if answer["rows"]:
        for row in answer["rows"]:
            label = row["group"] + (f" {row['name']}" if "name" in row else "")
            rows.append([label, *(read(row) for _, read in FIGURE_COLUMNS)])
    rows.append(
        [
            f"Tổng {answer['from']} – {answer['to']}",
            *(read(answer["totals"]) for _, read in FIGURE_COLUMNS),
        ]
    )
    return header, rows


def exchange_table(exchanges: Iterable[EShareExchange]) -> list[list[Any]]:
    return [
        [
            e["document_id"],
            e["sender"],
            e["subject"],
            e["sent_at"],
            e["sent_day"],
            _yes(e["fully_electronic"]),
            _yes(e["signed"]),
            _yes(e["scanned"]),
            _yes(e["paper"]),
            ", ".join(d["OrganId"] for d in e["deliveries"]),
            ", ".join(r["code"] for r in e["reasons"]),
            "; ".join(r["label"] for r in e["reasons"]),
        ]
        for e in exchanges
    ]


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode()


def _xlsx(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        width = max(len(str(c.value or "")) for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 10), 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def figures_csv(answer: EShareAnswer) -> bytes:
    header, rows = figure_table(answer)
    return _csv(header, rows)


def figures_xlsx(answer: EShareAnswer) -> bytes:
    header, rows = figure_table(answer)
    return _xlsx("Tỷ lệ điện tử", header, rows)


def exchanges_csv(exchanges: Iterable[EShareExchange]) -> bytes:
    return _csv(EXCHANGE_HEADERS, exchange_table(exchanges))


def exchanges_xlsx(exchanges: Iterable[EShareExchange]) -> bytes:
    return _xlsx("Văn bản", EXCHANGE_HEADERS, exchange_table(exchanges))

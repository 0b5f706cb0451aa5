"""When a delivery is due: DueDate and priority (edXML OtherInfo/Priority). Pure.

- A DueDate (hạn xử lý) makes the delivery due at the end of that day, Vietnam time.
- Priority sets a processing window from arrival when it is tighter (or there is
  no DueDate): 1 khẩn 48 h, 2 thượng khẩn 24 h, 3 hỏa tốc 8 h, 4 hỏa tốc hẹn giờ
  4 h. Priority 0 (thường) adds no window of its own.
- Due soon: within the last quarter of the time allowed, at most 24 h before.
- Both times come back in UTC: SQLite keeps a datetime's wall time and drops its
  offset, so a +07:00 value would be read back seven hours off.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

from services.common.contract import Status

VIETNAM = timezone(timedelta(hours=7))
PRIORITY_WINDOW = {
    1: timedelta(hours=48),
    2: timedelta(hours=24),
    3: timedelta(hours=8),
    4: timedelta(hours=4),
}
MAX_DUE_SOON = timedelta(hours=24)
# Nothing more is owed on these.
DONE = frozenset({Status.REJECTED, Status.COMPLETED, Status.TAKE_BACK_ACCEPTED})


def due_at(due_date: date | None, priority: int, sent_at: datetime) -> datetime | None:
    candidates = []
    if due_date is not None:
        candidates.append(datetime.combine(due_date, time(23, 59, 59), VIETNAM))
    window = PRIORITY_WINDOW.get(priority)
    if window is not None:
        candidates.append(sent_at + window)
    return min(candidates).astimezone(UTC) if candidates else None


def due_soon_at(due: datetime, sent_at: datetime) -> datetime:
    allowed = max(due - sent_at, timedelta(0))
    return (due - min(allowed / 4, MAX_DUE_SOON)).astimezone(UTC)


def is_open(status: str | None) -> bool:
    return status not in DONE

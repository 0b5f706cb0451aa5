"""Vietnamese first, English through a Babel catalog; Vietnamese dates.

Source strings are Vietnamese; ``translations/<lang>/LC_MESSAGES/messages.po`` holds
the other languages, compiled in memory when the app starts."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
VIETNAM = timezone(timedelta(hours=7), "ICT")
CATALOG_DIR = Path(__file__).resolve().parent / "translations"


def load_catalogs(directory: Path = CATALOG_DIR) -> dict[str, NullTranslations]:
    catalogs: dict[str, NullTranslations] = {DEFAULT: NullTranslations()}
    for language in LANGUAGES:
        # messages.po, plus one catalog per feature (e.g. monitor.po), merged
        files = sorted((directory / language / "LC_MESSAGES").glob("*.po"))
        if language == DEFAULT or not files:
            continue
        catalog = None
        for po in files:
            with po.open("rb") as f:
                part = read_po(f, locale=language)
            if catalog is None:
                catalog = part
                continue
            for message in part:
                if message.id and message.id not in catalog:
                    catalog[message.id] = message
        assert catalog is not None
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        catalogs[language] = Translations(compiled)
    return catalogs


def vn_date(value: date | datetime | str | None) -> str:
    """dd/mm/yyyy, the way Vietnamese documents write dates."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = parse_moment(value)
    if isinstance(value, datetime):
        value = value.astimezone(VIETNAM).date()
    return value.strftime("%d/%m/%Y")


def vn_datetime(value: datetime | str | None) -> str:
    """HH:MM dd/mm/yyyy, Vietnam time."""
    if value is None or value == "":
        return ""
    moment = parse_moment(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return vn_date(moment)
    return moment.astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def parse_moment(raw: str) -> datetime | date:
    text = raw.strip().replace("/", "-")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return date.fromisoformat(text[:10])
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def today_vn() -> date:
    return datetime.now(VIETNAM).date()


def mark(text: str) -> str:
    """Marks a string for the catalog where it is translated later, by value."""
    return text


# Words the templates translate by value (``_(name)``): priorities, roles, page titles,
# verdicts and login answers. Listed here so that extraction finds them.
CATALOG_WORDS = (
    mark("Thường"),
    mark("Khẩn"),
    mark("Thượng khẩn"),
    mark("Hỏa tốc"),
    mark("Hỏa tốc hẹn giờ"),
    mark("Lãnh đạo"),
    mark("Văn thư"),
    mark("Chuyên viên"),
    mark("Giám sát"),
    mark("Yêu cầu không hợp lệ"),
    mark("Cần đăng nhập"),
    mark("Không có quyền"),
    mark("Không tìm thấy"),
    mark("Trạng thái đã thay đổi"),
    mark("Dữ liệu chưa đúng"),
    mark("Lỗi hệ thống"),
    mark("Không có chữ ký số"),
    mark("Không đọc được tệp"),
    mark("Email hoặc mật khẩu không đúng."),
    mark("Tài khoản đã bị khóa bởi quản trị."),
    mark("Tài khoản tạm khóa 15 phút vì đăng nhập sai nhiều lần."),
    mark("Mã PIN mở khóa ký số của bạn; mỗi lần ký (hoặc ký cả lô) bạn nhập nó một lần."),
)

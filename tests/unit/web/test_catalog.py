"""Every string of the web app goes through the Babel catalog: each one found in the
templates and the code has an English translation, and dates read the Vietnamese way."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.common.contract import Reason
from services.web.i18n import load_catalogs, vn_date, vn_datetime

WEB = Path(__file__).resolve().parents[3] / "services" / "web"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _extracted() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), METHODS, keywords={"_": None, "gettext": None, "mark": None},
        options_map=OPTIONS,
    ):  # fmt: skip
        if isinstance(message, str) and message:
            found.add(message)
    return found


def test_every_string_has_an_english_translation() -> None:
    translated: set[str] = set()
    for po in (WEB / "translations" / "en" / "LC_MESSAGES").glob("*.po"):
        with po.open("rb") as f:
            translated |= {str(m.id) for m in read_po(f, locale="en") if m.id and m.string}
    extracted = _extracted()
    assert len(extracted) > 200
    assert extracted - translated == set()


def test_every_reason_label_has_an_english_translation() -> None:
    """The dashboard and the listings show the ledger's reasons by their label."""
    translated: set[str] = set()
    for po in (WEB / "translations" / "en" / "LC_MESSAGES").glob("*.po"):
        with po.open("rb") as f:
            translated |= {str(m.id) for m in read_po(f, locale="en") if m.id and m.string}
    assert {r.vi for r in Reason} - translated == set()


def test_the_catalog_loads_and_translates() -> None:
    catalogs = load_catalogs()
    assert catalogs["en"].gettext("Chờ tôi ký") == "Awaiting my signature"
    assert catalogs["vi"].gettext("Chờ tôi ký") == "Chờ tôi ký"


def test_vietnamese_dates() -> None:
    assert vn_date(date(2026, 3, 5)) == "05/03/2026"
    assert vn_date("2026/11/21") == "21/11/2026"
    # 17:30 UTC is half past midnight the next day in Vietnam
    assert vn_datetime(datetime(2026, 11, 21, 17, 30, tzinfo=UTC)) == "00:30 22/11/2026"
    assert vn_date(None) == ""

"""The dashboard's rules: periods, the ranking and the levels routing answered, words."""

from __future__ import annotations

from datetime import date

from services.web import monitoring
from services.web.charts import Series, share_chart
from services.web.monitoring import Period
from tests.unit.common.test_agency_tree import PARENTS


def row(group: str, exchanges: int, fully: int, **extra: object) -> dict[str, object]:
    return {
        "group": group,
        "exchanges": exchanges,
        "fully_electronic": fully,
        "share": fully / exchanges if exchanges else None,
        "overdue": 0,
        **extra,
    }


def test_the_quarter_of_a_day() -> None:
    assert monitoring.quarter_of(date(2026, 12, 6)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert monitoring.quarter_of(date(2026, 2, 28)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert monitoring.quarter_of(date(2026, 6, 30)) == (date(2026, 4, 1), date(2026, 6, 30))


def test_period_defaults_to_the_current_quarter_by_month() -> None:
    assert Period.parse({}, date(2026, 12, 6)) == Period(
        date(2026, 10, 1), date(2026, 12, 31), "month"
    )


def test_period_repairs_bad_input_instead_of_failing() -> None:
    today = date(2026, 12, 6)
    assert Period.parse({"from": "hôm qua", "group_by": "year"}, today).group_by == "month"
    swapped = Period.parse({"from": "2026-12-01", "to": "2026-11-01"}, today)
    assert (swapped.start, swapped.end) == (date(2026, 11, 1), date(2026, 12, 1))
    long = Period.parse({"from": "2020-01-01", "to": "2026-12-31"}, today)
    assert (long.end - long.start).days == monitoring.MAX_DAYS - 1


def ranked(rank: int, group: str, level: int = 1, **extra: object) -> dict[str, object]:
    return {"rank": rank, "level": level, **row(group, 10, rank), **extra}


def test_the_ranking_page_is_what_routing_ranked() -> None:
    latency = {"count": 3, "p50": 3600, "p90": 7200, "p95": 7200}
    answer = {
        "rows": [
            ranked(51, "D9", name="Sở 9", latency_arrived_to_registered=latency),
            ranked(52, "O1", level=2),
        ],
        "total": 120,
        "page": 2,
        "pages": 3,
    }
    page = monitoring.ranking_page(answer)
    assert (page.page, page.pages, page.total, page.first, page.last) == (2, 3, 120, 51, 52)
    assert [(r.rank, r.code, r.name, r.level) for r in page.rows] == [
        (51, "D9", "Sở 9", 1),
        (52, "O1", "O1", 2),
    ]
    assert (page.rows[0].registration_p50, page.rows[1].registration_p50) == (3600.0, None)
    empty = monitoring.ranking_page({"rows": [], "total": 0, "page": 1, "pages": 1})
    assert (empty.page, empty.pages, empty.total, empty.first, empty.rows) == (1, 1, 0, 0, [])


def test_the_page_asked_for_in_the_address() -> None:
    assert monitoring.page_number("3") == 3
    for asked in (None, "", "0", "-1", "x", "9" * 30):
        assert monitoring.page_number(asked) == 1


def test_the_figures_per_level_are_what_routing_summed() -> None:
    answer = {
        "levels": [
            {"level": 0, "agencies": 1, "exchanges": 10, "fully_electronic": 5, "share": 0.5,
             "overdue": 0},
            {"level": 1, "agencies": 2, "exchanges": 6, "fully_electronic": 3, "share": 0.5,
             "overdue": 2},
        ]
    }  # fmt: skip
    levels = monitoring.level_figures(answer)
    assert [(f.level, f.agencies, f.exchanges, f.share, f.overdue) for f in levels] == [
        (0, 1, 10, 0.5, 0),
        (1, 2, 6, 0.5, 2),
    ]


def test_words() -> None:
    assert monitoring.percent(2 / 3) == "66,7%"
    assert monitoring.percent(None) == "—"
    assert monitoring.duration(None) == "—"
    assert monitoring.duration(42) == "42 giây"
    assert monitoring.duration(600) == "10 phút"
    assert monitoring.duration(5400) == "1,5 giờ"
    assert monitoring.duration(2 * 86400) == "2,0 ngày"


def test_the_chart_is_svg_with_a_title_a_bar_per_value_and_a_legend() -> None:
    svg = str(
        share_chart(
            ["2026-10", "2026-11", "2026-12"],
            [
                Series("Hoàn toàn điện tử", "#1d4ed8", [0.5, None, 1.0]),
                Series("Có chữ ký số <cơ quan>", "#b91c1c", [0.25, 0.0, 0.75]),
            ],
            title="Tỷ lệ theo tháng",
            description="mô tả",
        )
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert '<title id="chart-title">Tỷ lệ theo tháng</title>' in svg
    # one bar per known value (None draws nothing), plus one legend swatch per series
    assert svg.count("<rect") == 5 + 2
    assert "Hoàn toàn điện tử, 2026-12: 100.0%" in svg
    assert "&lt;cơ quan&gt;" in svg and "<cơ quan>" not in svg


def test_every_dashboard_string_has_english() -> None:
    """The dashboard's templates and view speak Vietnamese; the English switch must
    find each of their strings in the catalog."""
    import re
    from pathlib import Path

    from services.web.i18n import load_catalogs

    web = Path(__file__).resolve().parents[3] / "services" / "web"
    sources = [*web.glob("templates/monitor*.html"), web / "views" / "monitor.py"]
    found: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'_\("([^"]+)"', text)) | set(re.findall(r"_\('([^']+)'", text))
    english = load_catalogs()["en"]
    missing = sorted(s for s in found if english.gettext(s) == s)
    assert len(found) > 50
    assert not missing, missing


def test_the_agency_picker_lists_the_tree_in_order() -> None:
    assert monitoring.agency_choices(PARENTS, "P", "P") == [
        ("P", 0),
        ("C1", 1),
        ("D1", 1),
        ("O1", 2),  # below its department, not after every level 1
        ("D2", 1),
    ]
    # Never a sibling province, nor anything above the monitor.
    assert monitoring.agency_choices(PARENTS, "D1", "D1") == [("D1", 0), ("O1", 1)]


def test_a_large_registry_is_picked_a_level_at_a_time() -> None:
    # Beyond the limit: the way down to the chosen agency, and the agencies below it.
    assert monitoring.agency_choices(PARENTS, "P", "D1", most=3) == [
        ("P", 0),
        ("D1", 1),
        ("O1", 2),
    ]
    assert monitoring.agency_choices(PARENTS, "P", "P", most=3) == [
        ("P", 0),
        ("C1", 1),
        ("D1", 1),
        ("D2", 1),
    ]

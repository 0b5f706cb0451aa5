"""The dashboard's rules: periods, registry levels, ranking, figures per level, words."""

from __future__ import annotations

from datetime import date

from services.web import monitoring
from services.web.charts import Series, share_chart
from services.web.monitoring import Period

PARENTS = {
    "P": None,  # the monitor's province
    "D1": "P",  # departments
    "D2": "P",
    "C1": "P",  # a commune, beside the departments
    "O1": "D1",  # an office of a department
    "Q": None,  # a sibling province
    "QD": "Q",
}


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


def test_depths_follow_the_registry_and_never_reach_a_sibling() -> None:
    assert monitoring.depths("P", PARENTS) == {"P": 0, "C1": 1, "D1": 1, "D2": 1, "O1": 2}
    assert monitoring.depths("D1", PARENTS) == {"D1": 0, "O1": 1}


def test_ranking_best_share_first_and_nothing_sent_last() -> None:
    depth_of = monitoring.depths("P", PARENTS)
    rows = [
        row("P", 10, 5),
        row("D1", 4, 1),
        row("D2", 2, 2),
        row("C1", 0, 0),
        row("O1", 3, 3),
        row("QD", 9, 9),  # not below P: never ranked
    ]
    ranked = monitoring.ranking(rows, depth_of, None)
    assert [(r.rank, r.code) for r in ranked] == [(1, "O1"), (2, "D2"), (3, "D1"), (4, "C1")]
    assert [r.code for r in monitoring.ranking(rows, depth_of, 1)] == ["D2", "D1", "C1"]
    assert [r.code for r in monitoring.ranking(rows, depth_of, 2)] == ["O1"]


def test_the_ranking_shown_a_page_at_a_time() -> None:
    depth_of = {"P": 0, **{f"A{i:03d}": 1 for i in range(120)}}
    rows = [row(code, 100, i) for i, code in enumerate(sorted(depth_of))]
    ranked = monitoring.ranking(rows, depth_of, None)
    first = monitoring.ranking_page(ranked, None, 50)
    assert (first.page, first.pages, first.total, first.first, first.last) == (1, 3, 120, 1, 50)
    assert first.rows == ranked[:50]
    third = monitoring.ranking_page(ranked, "3", 50)
    assert (third.page, third.first, third.last) == (3, 101, 120)
    assert [r.code for r in third.rows] == [r.code for r in ranked[100:]]
    # Past the last page: the last; not a page number: the first.
    assert monitoring.ranking_page(ranked, "9", 50).page == 3
    for asked in ("0", "-1", "x", ""):
        assert monitoring.ranking_page(ranked, asked, 50).page == 1
    empty = monitoring.ranking_page([], "2", 50)
    assert (empty.page, empty.pages, empty.total, empty.first, empty.rows) == (1, 1, 0, 0, [])


def test_figures_per_level_add_up() -> None:
    depth_of = monitoring.depths("P", PARENTS)
    rows = [row("P", 10, 5), row("D1", 4, 1), row("D2", 2, 2), row("O1", 3, 3), row("QD", 9, 9)]
    levels = {f.level: f for f in monitoring.by_level(rows, depth_of)}
    assert (levels[0].exchanges, levels[0].share) == (10, 0.5)
    assert (levels[1].agencies, levels[1].exchanges, levels[1].fully_electronic) == (2, 6, 3)
    assert levels[1].share == 0.5
    assert (levels[2].exchanges, levels[2].share) == (3, 1.0)
    assert set(levels) == {0, 1, 2}


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

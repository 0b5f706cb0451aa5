"""The dashboard's page as rendered: the ranking a page at a time, with links to the
pages around it that keep the period, the agency and the level."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template

from services.web import monitoring
from services.web.app import create_app
from services.web.charts import share_chart
from services.web.monitoring import Period
from services.web.settings import WebSettings
from services.web.views import base
from services.web.views.monitor import RANKING_PAGE, _link

NATIONAL = "000.00.00.G00"
CODES = [f"000.00.{i:02d}.H41" for i in range(1, 121)]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    settings = WebSettings.from_env({"LIENTHONG_DATA_DIR": str(tmp_path)})
    registry = [{"code": NATIONAL, "name": "Văn phòng Chính phủ", "parent": None}] + [
        {"code": c, "name": f"Cơ quan {i}", "parent": NATIONAL} for i, c in enumerate(CODES)
    ]
    monkeypatch.setattr(
        base,
        "_REGISTRY",
        {"at": time.monotonic() + 3600, "items": registry,
         "names": {a["code"]: a["name"] for a in registry}},
    )  # fmt: skip
    yield create_app(settings)


def _figures() -> dict[str, Any]:
    latency = {"count": 0, "p50": None, "p90": None, "p95": None}
    return {
        "exchanges": 10, "fully_electronic": 5, "share": 0.5, "signed_share": 0.5,
        "on_time_share": None, "on_time": 0, "due": 0, "overdue": 0,
        "latency_arrived_to_registered": latency, "latency_sent_to_arrived": latency,
    }  # fmt: skip


def _ranking(asked: str | None, level: int | None) -> dict[str, Any]:
    """What routing answers for 120 agencies one level below, the share of the i-th
    i/200: the last one best."""
    best_first = [
        {"group": c, "name": f"Cơ quan {i}", "level": 1, **_figures(), "share": i / 200}
        for i, c in reversed(list(enumerate(CODES)))
    ]
    if level not in (None, 1):
        best_first = []
    pages = max(1, -(-len(best_first) // RANKING_PAGE))
    page = min(monitoring.page_number(asked), pages)
    first = (page - 1) * RANKING_PAGE
    rows = [
        {**r, "rank": first + i + 1} for i, r in enumerate(best_first[first : first + RANKING_PAGE])
    ]
    levels = [
        {"level": 0, "agencies": 1, "exchanges": 10, "fully_electronic": 5, "share": 0.5,
         "overdue": 0},
        {"level": 1, "agencies": 120, "exchanges": 1200, "fully_electronic": 600,
         "share": 0.5, "overdue": 0},
    ]  # fmt: skip
    return {"rows": rows, "total": len(best_first), "page": page, "pages": pages,
            "levels": levels}  # fmt: skip


def _render(
    app: Flask, asked: str | None, level: int | None, totals: dict[str, Any] | None = None
) -> str:
    period = Period(date(2026, 4, 1), date(2026, 6, 30), "month")
    depth_of = {NATIONAL: 0, **dict.fromkeys(CODES, 1)}
    ranking = _ranking(asked, level)
    with app.test_request_context("/monitor"):
        return render_template(
            "monitor.html", period=period, agency=NATIONAL, level=level, levels=[1],
            agencies=sorted(depth_of.items(), key=lambda x: (x[1], x[0])),
            totals=totals or _figures(), rows=[],
            reasons=monitoring.reasons(totals or _figures()),
            chart=share_chart([], [], title="t", description="d"),
            ranking=monitoring.ranking_page(ranking),
            level_figures=monitoring.level_figures(ranking),
            overdue={"overdue": []}, as_of="2026-07-01T00:00:00+00:00",
            link=lambda endpoint, **extra: _link(endpoint, period, NATIONAL, **extra),
            link_at=lambda endpoint, code, **extra: _link(endpoint, period, code, **extra),
            percent=monitoring.percent, duration=monitoring.duration,
            groups=monitoring.GROUPS, quarter=(2026, 2),
        )  # fmt: skip


def _ranked_codes(html: str) -> list[str]:
    section = html.split('id="ranking"', 1)[1].split("</section>", 1)[0]
    return re.findall(r"<small>([0-9.A-Z]+) ·", section)


def test_the_ranking_is_shown_a_page_at_a_time(app: Flask) -> None:
    first = _render(app, None, None)
    # Best share first: the last of the 120 agencies leads.
    assert _ranked_codes(first) == CODES[::-1][:RANKING_PAGE]
    assert "Hạng 1–50 trong 120 cơ quan" in first
    assert 'rel="prev"' not in first
    following = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert following is not None
    assert following.group(1).replace("&amp;", "&") == (
        f"/monitor?agency={NATIONAL}&from=2026-04-01&to=2026-06-30&group_by=month"
        "&rank_page=2#ranking"
    )
    last = _render(app, "3", 1)
    assert _ranked_codes(last) == CODES[::-1][100:]
    assert "Hạng 101–120 trong 120 cơ quan" in last
    assert 'rel="next"' not in last
    previous = re.search(r'<a rel="prev" href="([^"]+)"', last)
    assert previous is not None and "&amp;level=1&amp;rank_page=2#ranking" in previous.group(1)


def test_one_page_has_no_pager(app: Flask) -> None:
    html = _render(app, "1", 2)  # nobody at level 2
    assert "Không có cơ quan trực thuộc ở cấp này." in html
    assert 'class="pager"' not in html


def test_the_reasons_say_why_exchanges_are_not_fully_electronic(app: Flask) -> None:
    totals = {**_figures(), "reasons": {"paper": 1, "not_registered": 4, "rejected": 0}}
    html = _render(app, None, None, totals)
    section = html.split('id="reasons"', 1)[1].split("</section>", 1)[0]
    # Most frequent first, each a link to the exchanges with that reason; none for 0.
    links = re.findall(r'data-reason="([a-z_]+)" href="([^"]+)"', section)
    assert [code for code, _ in links] == ["not_registered", "paper"]
    assert links[0][1].replace("&amp;", "&") == (
        f"/monitor/exchanges?agency={NATIONAL}&from=2026-04-01&to=2026-06-30"
        "&group_by=month&reason=not_registered"
    )
    assert "Có nơi nhận chưa vào sổ (tiếp nhận) trên hệ thống" in section
    assert "<td>4</td><td>40,0%</td>" in section  # of the 10 sent
    assert "Một văn bản có thể có nhiều lý do." in section
    nothing = _render(app, None, None, {**_figures(), "reasons": {}})
    assert "Mọi văn bản trong kỳ đều hoàn toàn điện tử." in nothing

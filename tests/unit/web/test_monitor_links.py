from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask, url_for

from services.web.monitoring import Period
from services.web.views.monitor import _link, monitor


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.register_blueprint(monitor)
    return app


@pytest.mark.parametrize("endpoint", ["monitor.dashboard", "monitor.exchanges"])
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"fully_electronic": "false"},
        {"reason": "not_signed", "fully_electronic": None},
        {"after": "2026-01-01T00:00:00+07:00|ab cd/ế&x=1"},
        {"level": 1, "rank_page": 2},
        {"level": None, "rank_page": 3},
        {"group_by": "day", "level": 2},  # one of the link's own keys: through url_for
    ],
)
@pytest.mark.parametrize("script_root", ["", "/lienthong"])
def test_the_dashboard_links_are_what_url_for_builds(
    app: Flask, endpoint: str, extra: dict[str, Any], script_root: str
) -> None:
    period = Period(date(2025, 1, 1), date(2026, 12, 31), "month")
    with app.test_request_context("/monitor", base_url=f"http://lt.example{script_root}"):
        for agency in ("000.00.00.H41", "000.00.01.H41", "CQ Ngoài Chuẩn/1"):
            values: dict[str, Any] = {
                "agency": agency,
                "from": "2025-01-01",
                "to": "2026-12-31",
                "group_by": "month",
            }
            values.update({k: v for k, v in extra.items() if v is not None})
            assert _link(endpoint, period, agency, **extra) == url_for(endpoint, **values)


def test_other_endpoints_still_go_through_url_for(app: Flask) -> None:
    period = Period(date(2026, 4, 1), date(2026, 6, 30), "quarter")
    with app.test_request_context("/monitor"):
        assert _link("monitor.download", period, "000.00.00.H41", name="figures.csv") == (
            "/monitor/download/figures.csv?agency=000.00.00.H41&from=2026-04-01"
            "&to=2026-06-30&group_by=quarter"
        )

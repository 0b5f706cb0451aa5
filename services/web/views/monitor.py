"""Giám sát tỷ lệ văn bản điện tử: the monitors' dashboard.

The share of fully electronic exchanges over time, per agency and per level of the
registry below the monitor; a ranking of those agencies; overdue work and registration
latency; every figure a link to the exchanges behind it, each saying why it is or is
not fully electronic; exports (CSV, XLSX) and the printable quarterly report. The
figures come from ingest's e-share API, acting for the monitor's agency: ingest and
routing decide what it may see (itself and the agencies below it), and so does this
view before it asks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from flask import Blueprint, Response, abort, g, request, url_for

from services.common.agency_tree import depths
from services.web import monitoring
from services.web.charts import Series, share_chart
from services.web.i18n import VIETNAM, today_vn
from services.web.monitoring import Period
from services.web.rules import Action, due_state
from services.web.views.base import _, ctx, registry, render, require, user

monitor = Blueprint("monitor", __name__, url_prefix="/monitor")

EXCHANGE_PAGE = 50
OVERDUE_SHOWN = 20
RANKING_PAGE = 50
DOWNLOADS = {
    "figures.csv": ("", "csv"),
    "figures.xlsx": ("", "xlsx"),
    "exchanges.csv": ("/exchanges", "csv"),
    "exchanges.xlsx": ("/exchanges", "xlsx"),
}


def _parents() -> dict[str, str | None]:
    return {str(a["code"]): a.get("parent") for a in registry()}


def _depths(parents: dict[str, str | None] | None = None) -> dict[str, int]:
    return depths(_parents() if parents is None else parents, user().agency_code)


def _agency(depth_of: dict[str, int]) -> str:
    """The agency asked for: the monitor's own or one below it; anything else is not
    found (the same answer as for an agency that does not exist)."""
    asked = request.args.get("agency") or user().agency_code
    if asked not in depth_of:
        abort(404)
    return asked


def _level(depth_of: dict[str, int]) -> int | None:
    raw = request.args.get("level") or ""
    if not raw.isdigit():
        return None
    level = int(raw)
    return level if level in set(depth_of.values()) - {0} else None


def _api_params(period: Period, agency: str, **extra: str) -> dict[str, str]:
    params = {
        "agency": agency,
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "include_children": "true",
    }
    params.update({k: v for k, v in extra.items() if v})
    return params


#: Endpoints without path variables: their links are the path (``url_for`` once per
#: request) and the query encoded here, as werkzeug encodes it. The ranking links
#: every agency below the monitor three times (600 links for the national office).
_PLAIN = ("monitor.dashboard", "monitor.exchanges")
_QUERY_SAFE = "!$'()*,/:;?@"
_LINK_KEYS = frozenset({"agency", "from", "to", "group_by"})


def _period_query(period: Period) -> str:
    """``&from=…&to=…&group_by=…`` as ``urlencode`` writes it, once per request."""
    done: dict[Period, str] = g.setdefault("monitor_period_query", {})
    if period not in done:
        done[period] = "&" + urlencode(
            {"from": period.start.isoformat(), "to": period.end.isoformat(),
             "group_by": period.group_by},
            safe=_QUERY_SAFE,
        )  # fmt: skip
    return done[period]


def _link(endpoint: str, period: Period, agency: str, **extra: Any) -> str:
    given = {k: v for k, v in extra.items() if v is not None}
    if endpoint not in _PLAIN or not _LINK_KEYS.isdisjoint(given):
        values: dict[str, Any] = {
            "agency": agency,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "group_by": period.group_by,
        }
        values.update(given)
        return url_for(endpoint, **values)
    paths: dict[str, str] = g.setdefault("monitor_paths", {})
    if endpoint not in paths:
        paths[endpoint] = url_for(endpoint)
    query = "agency=" + quote_plus(agency, safe=_QUERY_SAFE) + _period_query(period)
    if given:
        query += "&" + urlencode(given, safe=_QUERY_SAFE)
    return paths[endpoint] + "?" + query


@monitor.get("")
def dashboard() -> tuple[str, int]:
    require(Action.MONITOR)
    parents = _parents()
    depth_of = _depths(parents)
    agency = _agency(depth_of)
    level = _level(depth_of)
    period = Period.parse(request.args, today_vn())
    metrics, me = ctx().metrics, user().agency_code
    ranked = {"page": str(monitoring.page_number(request.args.get("rank_page")))}
    ranked["limit"] = str(RANKING_PAGE)
    if level is not None:
        ranked["level"] = str(level)
    # Three independent questions to ingest, asked at the same time (each waits on
    # ingest and routing; one after the other they add up). Routing ranks the agencies
    # and sums the levels: the page gets one page of the ranking, however many there are.
    with ThreadPoolExecutor(2, thread_name_prefix="monitor") as pool:
        asked_ranking = pool.submit(metrics.ranking, me, _api_params(period, agency, **ranked))
        asked_overdue = pool.submit(
            metrics.overdue,
            me,
            {**_api_params(period, agency), "limit": str(OVERDUE_SHOWN), "count": "false"},
        )
        over_time = metrics.figures(me, _api_params(period, agency, group_by=period.group_by))
        ranking, overdue = asked_ranking.result(), asked_overdue.result()
    level_figures = monitoring.level_figures(ranking)
    rows = list(over_time.get("rows") or [])
    chart = share_chart(
        [str(r["group"]) for r in rows],
        [
            Series(_("Hoàn toàn điện tử"), "#1d4ed8", monitoring.series_values(rows, "share")),
            Series(
                _("Có chữ ký số cơ quan"), "#b91c1c", monitoring.series_values(rows, "signed_share")
            ),
            Series(_("Xử lý đúng hạn"), "#15803d", monitoring.series_values(rows, "on_time_share")),
        ],
        title=_("Tỷ lệ văn bản điện tử theo thời gian"),
        description=_("Tỷ lệ theo từng kỳ; bảng số liệu ở ngay dưới biểu đồ."),
    )
    levels_present = [f.level for f in level_figures if f.level > 0]
    return render(
        "monitor.html",
        period=period,
        agency=agency,
        level=level,
        levels=levels_present,
        agencies=monitoring.agency_choices(parents, me, agency),
        totals=over_time["totals"],
        rows=rows,
        chart=chart,
        ranking=monitoring.ranking_page(ranking),
        level_figures=level_figures,
        reasons=monitoring.reasons(over_time["totals"]),
        overdue=overdue,
        as_of=over_time.get("as_of"),
        link=lambda endpoint, **extra: _link(endpoint, period, agency, **extra),
        link_at=lambda endpoint, code, **extra: _link(endpoint, period, code, **extra),
        percent=monitoring.percent,
        duration=monitoring.duration,
        groups=monitoring.GROUPS,
        quarter=(period.start.year, (period.start.month - 1) // 3 + 1),
    )


@monitor.get("/exchanges")
def exchanges() -> tuple[str, int]:
    """The exchanges behind a figure, each with the reasons it is or is not fully
    electronic; ``fully_electronic`` and ``reason`` narrow it; paged with ``after``."""
    require(Action.MONITOR)
    depth_of = _depths()
    agency = _agency(depth_of)
    period = Period.parse(request.args, today_vn())
    fully = request.args.get("fully_electronic")
    fully = fully if fully in ("true", "false") else None
    reason = request.args.get("reason") or None
    after = request.args.get("after") or None
    params = _api_params(period, agency, fully_electronic=fully or "", reason=reason or "")
    params["limit"] = str(EXCHANGE_PAGE)
    if after:
        params["after"] = after
    page = ctx().metrics.exchanges(user().agency_code, params)
    return render(
        "monitor_exchanges.html",
        period=period,
        agency=agency,
        fully=fully,
        reason=reason,
        page=page,
        link=lambda endpoint, **extra: _link(
            endpoint, period, agency, fully_electronic=fully, reason=reason, **extra
        ),
        back=_link("monitor.dashboard", period, agency),
        delivery_state=_delivery_state,
        link_at=lambda endpoint, code, **extra: _link(endpoint, period, code, **extra),
    )


def _delivery_state(delivery: dict[str, Any]) -> str:
    """overdue / due-soon / done / waiting, as every list of the app colours them."""
    raw = delivery.get("due_at")
    due = None
    if isinstance(raw, str) and raw:
        try:
            due = datetime.fromisoformat(raw).astimezone(VIETNAM).date()
        except ValueError:
            due = None
    done = bool(delivery.get("completed_at") or delivery.get("rejected"))
    return due_state(due, today_vn(), done=done).value


@monitor.get("/download/<name>")
def download(name: str) -> Response:
    """CSV and XLSX exports of the figures (per period) and of the exchanges."""
    require(Action.MONITOR)
    if name not in DOWNLOADS:
        abort(404)
    depth_of = _depths()
    agency = _agency(depth_of)
    period = Period.parse(request.args, today_vn())
    path, fmt = DOWNLOADS[name]
    extra: dict[str, str] = {"format": fmt}
    if path == "":
        extra["group_by"] = period.group_by
    else:
        for key in ("fully_electronic", "reason"):
            if request.args.get(key):
                extra[key] = str(request.args[key])
    body, mimetype, disposition = ctx().metrics.download(
        user().agency_code, path, _api_params(period, agency, **extra)
    )
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = disposition
    return response


@monitor.get("/report.pdf")
def report() -> Response:
    """The printable quarterly report of an agency (Vietnamese PDF)."""
    require(Action.MONITOR)
    depth_of = _depths()
    agency = _agency(depth_of)
    year = request.args.get("year") or ""
    quarter = request.args.get("quarter") or ""
    if not (year.isdigit() and quarter.isdigit()):
        abort(400, description=_("Chọn năm và quý."))
    body, mimetype, disposition = ctx().metrics.download(
        user().agency_code, "/report.pdf", {"agency": agency, "year": year, "quarter": quarter}
    )
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = disposition
    return response

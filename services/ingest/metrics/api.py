"""``GET /v1/metrics/e-share`` and what is behind it, for an agency with its key.

An agency sees itself and the agencies below it in the registry, never a sibling:
routing decides, from the ``viewer`` ingest passes (the key's agency). Periods are
Vietnam calendar days. ``format=csv`` or ``format=xlsx`` exports the same answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request

from services.common.errors import BadRequest
from services.common.internal_api import EShareExchange, EShareQuery
from services.common.web import page_limit, whole_number
from services.common.wiring import current
from services.ingest.caller import authenticate, calling_agency
from services.ingest.context import IngestContext
from services.ingest.metrics import exports
from services.ingest.metrics.report import VIETNAM, QuarterReport, quarter_period, render_report

metrics_api = Blueprint("ingest_metrics_api", __name__, url_prefix="/v1/metrics")

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
#: The most exchanges one export lists (one request to routing per thousand).
MAX_EXPORT_ROWS = 50_000
FORMATS = ("json", "csv", "xlsx")


@metrics_api.before_request
def _authenticate() -> None:
    authenticate()


def _query() -> EShareQuery:
    return EShareQuery.from_args(request.args, viewer=calling_agency())


def _format() -> str:
    wanted = request.args.get("format") or "json"
    if wanted not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}")
    return wanted


def _download(body: bytes, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _name(query: EShareQuery, what: str, extension: str) -> str:
    return f"{what}-{query.agency}-{query.start.isoformat()}-{query.end.isoformat()}.{extension}"


@metrics_api.get("/e-share")
def e_share() -> Response:
    """The figures over the period, and per day, month, quarter or agency when asked."""
    ctx = current(IngestContext)
    query, wanted = _query(), _format()
    answer = ctx.routing.e_share(query)
    if wanted == "csv":
        return _download(exports.figures_csv(answer), exports.CSV, _name(query, "e-share", "csv"))
    if wanted == "xlsx":
        return _download(
            exports.figures_xlsx(answer), exports.XLSX, _name(query, "e-share", "xlsx")
        )
    return jsonify(answer)


def _all_exchanges(query: EShareQuery) -> list[EShareExchange]:
    routing = current(IngestContext).routing
    found: list[EShareExchange] = []
    after: str | None = None
    while len(found) < MAX_EXPORT_ROWS:
        page = routing.e_share_exchanges(query, limit=MAX_LIMIT, after=after)
        found.extend(page["exchanges"])
        after = page["next"]
        if after is None:
            break
    return found[:MAX_EXPORT_ROWS]


@metrics_api.get("/e-share/exchanges")
def e_share_exchanges() -> Response:
    """The exchanges behind a figure, oldest first, each with its reasons; paged with
    ``limit`` and ``after`` (the ``next`` cursor of the previous page)."""
    ctx = current(IngestContext)
    query, wanted = _query(), _format()
    if wanted != "json":
        rows = _all_exchanges(query)
        if wanted == "csv":
            body, mimetype = exports.exchanges_csv(rows), exports.CSV
        else:
            body, mimetype = exports.exchanges_xlsx(rows), exports.XLSX
        return _download(body, mimetype, _name(query, "exchanges", wanted))
    limit = page_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    after = request.args.get("after") or None
    return jsonify(ctx.routing.e_share_exchanges(query, limit=limit, after=after))


@metrics_api.get("/e-share/overdue")
def e_share_overdue() -> Response:
    """Work addressed to the agencies counted, due in the period and not completed."""
    limit = page_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    count = request.args.get("count") != "false"
    return jsonify(
        current(IngestContext).routing.e_share_overdue(_query(), limit=limit, count=count)
    )


@metrics_api.get("/e-share/ranking")
def e_share_ranking() -> Response:
    """The agencies below one, best share first, a page at a time; the figures per level."""
    asked = {k: request.args[k] for k in ("level", "page", "limit") if request.args.get(k)}
    return jsonify(current(IngestContext).routing.e_share_ranking(_query(), asked))


@metrics_api.get("/e-share/report.pdf")
def e_share_report() -> Response:
    """The printable quarterly report of an agency and the agencies below it
    (``agency``, ``year``, ``quarter``): what an inspection team takes on a visit."""
    ctx = current(IngestContext)
    viewer = calling_agency()
    agency = request.args.get("agency") or viewer
    year = whole_number(request.args.get("year") or "", "year", minimum=2000, maximum=2100)
    quarter = whole_number(request.args.get("quarter") or "", "quarter", minimum=1, maximum=4)
    start, end = quarter_period(year, quarter)
    base = EShareQuery(viewer=viewer, agency=agency, start=start, end=end, include_children=True)
    report = QuarterReport(
        year=year,
        quarter=quarter,
        totals=ctx.routing.e_share(base),
        months=ctx.routing.e_share(replace(base, group_by="month")),
        ranking=ctx.routing.e_share(replace(base, group_by="agency")),
        overdue=ctx.routing.e_share_overdue(base, limit=200),
        printed=datetime.now(UTC).astimezone(VIETNAM).date(),
    )
    return _download(
        render_report(report), "application/pdf", f"bao-cao-{agency}-{year}-Q{quarter}.pdf"
    )

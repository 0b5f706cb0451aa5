"""``GET /internal/v1/metrics/e-share[/exchanges|/overdue|/ranking]``: the e-share figures and
what is behind them. Service token only; ingest answers agencies with them
(``GET /v1/metrics/e-share``), having put the calling agency in ``viewer``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.internal_api import EShareQuery
from services.common.web import page_limit, whole_number
from services.common.wiring import current
from services.routing.context import RoutingContext
from services.routing.ledger import listings, queries, ranking

ledger_internal = Blueprint("routing_ledger", __name__, url_prefix="/internal/v1/metrics")

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
RANKING_SIZE, MAX_RANKING_SIZE = 50, 500


@ledger_internal.before_request
def _service_only() -> None:
    require_service_token(request, current(RoutingContext).settings.common.service_token)


@ledger_internal.get("/e-share")
def e_share() -> Response:
    query = EShareQuery.from_args(request.args)
    return jsonify(queries.e_share(current(RoutingContext).db, query))


@ledger_internal.get("/e-share/exchanges")
def e_share_exchanges() -> Response:
    query = EShareQuery.from_args(request.args)
    limit = page_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    after = request.args.get("after") or None
    return jsonify(listings.exchanges(current(RoutingContext).db, query, limit=limit, after=after))


@ledger_internal.get("/e-share/overdue")
def e_share_overdue() -> Response:
    query = EShareQuery.from_args(request.args)
    limit = page_limit(request, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    count = request.args.get("count") != "false"
    return jsonify(listings.overdue(current(RoutingContext).db, query, limit=limit, count=count))


@ledger_internal.get("/e-share/ranking")
def e_share_ranking() -> Response:
    query = EShareQuery.from_args(request.args)
    level = request.args.get("level") or None
    return jsonify(
        ranking.ranking(
            current(RoutingContext).db,
            query,
            level=whole_number(level, "level", minimum=1, maximum=20) if level else None,
            page=whole_number(request.args.get("page") or "1", "page", minimum=1, maximum=10**6),
            size=page_limit(request, default=RANKING_SIZE, maximum=MAX_RANKING_SIZE),
        )
    )

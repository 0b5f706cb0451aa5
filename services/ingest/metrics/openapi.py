"""OpenAPI 3.1 for the e-share metrics paths (merged into ingest's document)."""

from __future__ import annotations

from typing import Any

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_PROBLEMS = {str(code): _PROBLEM for code in (400, 401, 403)}
_SECURITY: list[dict[str, list[str]]] = [{"agencyKey": []}]


def _param(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_FILTERS = [
    _param("agency", "the agency (default: the caller); the caller or one below it"),
    _param("from", "first Vietnam calendar day", required=True, format="date"),
    _param("to", "last Vietnam calendar day (included)", required=True, format="date"),
    _param("include_children", "count the agencies below it too", type="boolean"),
]
_FORMAT = _param("format", "json (default), csv or xlsx", enum=["json", "csv", "xlsx"])
_DOWNLOADS = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
        "schema": {"type": "string", "format": "binary"}
    },
}


def _answer(description: str, *, downloads: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if downloads:
        content.update(_DOWNLOADS)
    return {"200": {"description": description, "content": content}, **_PROBLEMS}


METRICS_PATHS: dict[str, Any] = {
    "/v1/metrics/e-share": {
        "get": {
            "summary": "The e-document share of an agency (and those below it) over a period",
            "security": _SECURITY,
            "parameters": [
                *_FILTERS,
                _param("group_by", "rows per group", enum=["day", "month", "quarter", "agency"]),
                _FORMAT,
            ],
            "responses": _answer(
                "exchanges, fully_electronic, share, signed_share, on_time_share, overdue, "
                "latency percentiles; rows per group",
                downloads=True,
            ),
        }
    },
    "/v1/metrics/e-share/exchanges": {
        "get": {
            "summary": "The exchanges behind a figure, each with why it is or is not fully "
            "electronic",
            "security": _SECURITY,
            "parameters": [
                *_FILTERS,
                _param("fully_electronic", "only those that are (true) or are not", type="boolean"),
                _param("reason", "only those with this reason code"),
                _param("limit", "page size (1–1000, default 100)", type="integer"),
                _param("after", "the next cursor of the previous page"),
                _FORMAT,
            ],
            "responses": _answer("total, exchanges, next", downloads=True),
        }
    },
    "/v1/metrics/e-share/overdue": {
        "get": {
            "summary": "Work addressed to the agencies counted, due in the period, not completed",
            "security": _SECURITY,
            "parameters": [*_FILTERS, _param("limit", "at most (1–1000)", type="integer")],
            "responses": _answer("total, as_of, overdue"),
        }
    },
    "/v1/metrics/e-share/ranking": {
        "get": {
            "summary": "The agencies below one, best share first, a page at a time, and the "
            "figures per level of the registry",
            "security": _SECURITY,
            "parameters": [
                *_FILTERS[:3],
                _param("level", "rank only the agencies this many levels below", type="integer"),
                _param("page", "the page (from 1)", type="integer"),
                _param("limit", "ranks per page (1–500, default 50)", type="integer"),
            ],
            "responses": _answer("levels, total, page, pages, size, rows (rank, level, figures)"),
        }
    },
    "/v1/metrics/e-share/report.pdf": {
        "get": {
            "summary": "The printable quarterly report (Vietnamese PDF)",
            "security": _SECURITY,
            "parameters": [
                _param("agency", "the agency (default: the caller)"),
                _param("year", "the year", required=True, type="integer"),
                _param("quarter", "1–4", required=True, type="integer"),
            ],
            "responses": {
                "200": {
                    "description": "the report",
                    "content": {
                        "application/pdf": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                **_PROBLEMS,
            },
        }
    },
}

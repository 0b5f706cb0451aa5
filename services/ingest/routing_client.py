"""Ingest's client for routing's internal API (routing owns the status lifecycle)."""

from __future__ import annotations

from typing import Any, cast

import requests

from services.common.bus.envelope import parse_payload
from services.common.bus.messages import DeliveryStatusChanged
from services.common.errors import BadRequest, Forbidden, MessageFormatError, NotFound, Unavailable
from services.common.internal_api import (
    EShareAnswer,
    EShareExchangePage,
    EShareOverduePage,
    EShareQuery,
    EShareRanking,
    OverdueListing,
    ReceiptAnswer,
    ReceiptKeyAnswer,
    StatusReport,
    TakeBackAnswer,
    TakeBackRequest,
    Timeline,
)
from services.ingest.errors import TransitionRejected

# Routing's answers are forwarded as they are; their shapes are the contract's
# TypedDicts (services/common/internal_api.py), which routing's views return.
_Answer = dict[str, Any]


class RoutingClient:
    """:class:`~services.ingest.ports.RoutingPort` over HTTP."""

    def __init__(self, base_url: str, service_token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {service_token}"

    def report_status(self, delivery_id: str, report: StatusReport) -> DeliveryStatusChanged:
        changed = self._call(
            "POST", f"/internal/v1/deliveries/{delivery_id}/status", report.to_json()
        )
        try:
            return parse_payload(DeliveryStatusChanged, changed, "routing's status answer")
        except MessageFormatError as e:
            raise Unavailable(f"routing's answer to a status report is malformed: {e}") from e

    def take_back(self, document: str, request: TakeBackRequest) -> TakeBackAnswer:
        path = f"/internal/v1/documents/{document}/take-back"
        return cast(TakeBackAnswer, self._call("POST", path, request.to_json()))

    def timeline(self, document: str) -> Timeline:
        return cast(Timeline, self._call("GET", f"/internal/v1/documents/{document}/timeline"))

    def receipt(self, delivery_id: str) -> ReceiptAnswer:
        path = f"/internal/v1/deliveries/{delivery_id}/receipt"
        return cast(ReceiptAnswer, self._call("GET", path))

    def receipt_key(self) -> ReceiptKeyAnswer:
        return cast(ReceiptKeyAnswer, self._call("GET", "/internal/v1/receipts/key"))

    def overdue(self, agency: str) -> OverdueListing:
        path = "/internal/v1/overdue"
        return cast(OverdueListing, self._call("GET", path, params={"agency": agency}))

    def e_share(self, query: EShareQuery) -> EShareAnswer:
        path = "/internal/v1/metrics/e-share"
        return cast(EShareAnswer, self._call("GET", path, params=query.to_params()))

    def e_share_exchanges(
        self, query: EShareQuery, *, limit: int, after: str | None
    ) -> EShareExchangePage:
        params = {**query.to_params(), "limit": str(limit)}
        if after:
            params["after"] = after
        path = "/internal/v1/metrics/e-share/exchanges"
        return cast(EShareExchangePage, self._call("GET", path, params=params))

    def e_share_overdue(
        self, query: EShareQuery, *, limit: int, count: bool = True
    ) -> EShareOverduePage:
        params = {**query.to_params(), "limit": str(limit)}
        if not count:
            params["count"] = "false"
        path = "/internal/v1/metrics/e-share/overdue"
        return cast(EShareOverduePage, self._call("GET", path, params=params))

    def e_share_ranking(self, query: EShareQuery, params: dict[str, str]) -> EShareRanking:
        """``params``: ``level``, ``page``, ``limit`` as the caller gave them."""
        path = "/internal/v1/metrics/e-share/ranking"
        return cast(EShareRanking, self._call("GET", path, params={**query.to_params(), **params}))

    def _call(
        self,
        method: str,
        path: str,
        body: _Answer | None = None,
        params: dict[str, str] | None = None,
    ) -> _Answer:
        try:
            response = self.session.request(
                method, self.base_url + path, json=body, params=params, timeout=self.timeout
            )
        except requests.RequestException as e:
            raise Unavailable(f"routing cannot be reached: {e}") from e
        if response.status_code == 200:
            return dict(response.json())
        detail = _detail(response)
        if response.status_code == 409:
            raise TransitionRejected(detail)
        if response.status_code == 404:
            raise NotFound(detail)
        if response.status_code == 403:
            raise Forbidden(detail)
        if response.status_code in (400, 422):
            raise BadRequest(detail)
        raise Unavailable(f"routing answered {response.status_code}: {detail}")


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:500]

"""Ingest's client for routing's internal API (routing owns the status lifecycle)."""

from __future__ import annotations

from dataclasses import fields

import requests

from services.common.bus.messages import DeliveryStatusChanged
from services.common.errors import BadRequest, Forbidden, NotFound, Unavailable
from services.common.internal_api import StatusReport, TakeBackRequest
from services.ingest.errors import TransitionRejected
from services.ingest.ports import JsonObject

_STATUS_CHANGE_FIELDS = tuple(f.name for f in fields(DeliveryStatusChanged))


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
            return DeliveryStatusChanged(**{name: changed[name] for name in _STATUS_CHANGE_FIELDS})
        except KeyError as e:
            raise Unavailable(f"routing answered a status report without {e}") from e

    def take_back(self, document: str, request: TakeBackRequest) -> JsonObject:
        return self._call("POST", f"/internal/v1/documents/{document}/take-back", request.to_json())

    def timeline(self, document: str) -> JsonObject:
        return self._call("GET", f"/internal/v1/documents/{document}/timeline")

    def receipt(self, delivery_id: str) -> JsonObject:
        return self._call("GET", f"/internal/v1/deliveries/{delivery_id}/receipt")

    def receipt_key(self) -> JsonObject:
        return self._call("GET", "/internal/v1/receipts/key")

    def overdue(self, agency: str) -> JsonObject:
        return self._call("GET", "/internal/v1/overdue", params={"agency": agency})

    def _call(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        params: dict[str, str] | None = None,
    ) -> JsonObject:
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

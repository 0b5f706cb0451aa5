"""Ingest's client for routing's internal API (routing owns the status lifecycle)."""

from __future__ import annotations

from typing import Any

import requests

from services.common.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    TransitionRejected,
    Unavailable,
)


class RoutingClient:
    def __init__(self, base_url: str, service_token: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {service_token}"

    def report_status(self, delivery_id: str, report: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/internal/v1/deliveries/{delivery_id}/status", report)

    def take_back(self, document: str, request: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", f"/internal/v1/documents/{document}/take-back", request)

    def timeline(self, document: str) -> dict[str, Any]:
        return self._call("GET", f"/internal/v1/documents/{document}/timeline")

    def receipt(self, delivery_id: str) -> dict[str, Any]:
        return self._call("GET", f"/internal/v1/deliveries/{delivery_id}/receipt")

    def receipt_key(self) -> dict[str, Any]:
        return self._call("GET", "/internal/v1/receipts/key")

    def overdue(self, agency: str) -> dict[str, Any]:
        return self._call("GET", "/internal/v1/overdue", params={"agency": agency})

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
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

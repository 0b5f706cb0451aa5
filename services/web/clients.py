"""The web app's HTTP clients: ingest (acting for the user's agency, as that agency's
own system would) and signing. Both carry the service token; no service is imported."""

from __future__ import annotations

import json
from typing import Any

import requests

from services.common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unavailable,
    ValidationFailed,
)

ACTING_HEADER = "X-Acting-Agency"
Answer = dict[str, Any]


def _raise_for(response: requests.Response, service: str) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
        detail = str(body.get("detail") or body.get("title") or response.text)
        errors = body.get("errors") or []
        if errors:
            detail += ": " + "; ".join(f"{e.get('field')} {e.get('message')}" for e in errors)
    except ValueError:
        detail = response.text[:300]
    code = response.status_code
    if code == 404:
        raise NotFound(detail)
    if code == 403:
        raise Forbidden(detail)
    if code == 409:
        raise Conflict(detail)
    if code == 422:
        raise ValidationFailed(detail)
    if code == 400:
        raise BadRequest(detail)
    raise Unavailable(f"{service} answered {code}: {detail}")


class _Client:
    service = "service"

    def __init__(self, base_url: str, token: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.http.request(
                method, self.base_url + path, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as e:
            raise Unavailable(f"{self.service} cannot be reached: {e}") from e
        _raise_for(response, self.service)
        return response


class IngestClient(_Client):
    """Ingest's agency API, for ``agency``."""

    service = "ingest"

    def _as(self, agency: str) -> dict[str, str]:
        return {ACTING_HEADER: agency}

    def send(self, agency: str, pdf: bytes, metadata: Answer, key: str) -> Answer:
        response = self._request(
            "POST",
            "/v1/documents",
            headers={**self._as(agency), "Idempotency-Key": key},
            files={"file": ("document.pdf", pdf, "application/pdf")},
            data={"metadata": json.dumps(metadata, ensure_ascii=False)},
        )
        return dict(response.json())

    def document(self, agency: str, document: str) -> Answer:
        return dict(
            self._request("GET", f"/v1/documents/{document}", headers=self._as(agency)).json()
        )

    def content(self, agency: str, document: str) -> bytes:
        path = f"/v1/documents/{document}/content"
        return self._request("GET", path, headers=self._as(agency)).content

    def inbox(self, agency: str, params: dict[str, str]) -> list[Answer]:
        answer = self._request("GET", "/v1/inbox", headers=self._as(agency), params=params)
        return list(answer.json()["items"])

    def report(
        self, agency: str, delivery: str, code: str, description: str, staff: Answer
    ) -> Answer:
        body = {"code": code, "description": description, "staff": staff}
        path = f"/v1/deliveries/{delivery}/status"
        return dict(self._request("POST", path, headers=self._as(agency), json=body).json())

    def timeline(self, agency: str, document: str) -> Answer:
        path = f"/v1/documents/{document}/timeline"
        return dict(self._request("GET", path, headers=self._as(agency)).json())

    def agencies(self, agency: str) -> list[Answer]:
        return list(self._request("GET", "/v1/agencies", headers=self._as(agency)).json()["items"])


class SigningClient(_Client):
    service = "signing"

    def sign(self, pdf: bytes, options: Answer) -> bytes:
        response = self._request(
            "POST",
            "/internal/v1/sign",
            files={"file": ("draft.pdf", pdf, "application/pdf")},
            data={"options": json.dumps(options, ensure_ascii=False)},
        )
        return response.content

    def placement(self, pdf: bytes, options: Answer) -> Answer:
        response = self._request(
            "POST",
            "/internal/v1/placement",
            files={"file": ("draft.pdf", pdf, "application/pdf")},
            data={"options": json.dumps(options, ensure_ascii=False)},
        )
        return dict(response.json())

    def verify(self, pdf: bytes, name: str, html: bool = False) -> Answer | str:
        response = self._request(
            "POST",
            "/v1/verify",
            params={"format": "html"} if html else None,
            files={"file": (name, pdf, "application/pdf")},
        )
        return response.text if html else dict(response.json())

    def image(self, agency: str, kind: str, person: str | None) -> bytes:
        params = {"person": person} if person else None
        return self._request("GET", f"/internal/v1/images/{agency}/{kind}", params=params).content

    def register_image(self, agency: str, kind: str, person: str | None, png: bytes) -> Answer:
        response = self._request(
            "POST",
            "/internal/v1/images",
            files={"file": ("image.png", png, "image/png")},
            data={"agency": agency, "kind": kind, "person": person or ""},
        )
        return dict(response.json())

    def certificates(self, agency: str) -> list[Answer]:
        answer = self._request("GET", "/internal/v1/certificates", params={"agency": agency})
        return list(answer.json()["items"])

    def issue(self, agency: str, kind: str, name: str, title: str | None) -> Answer:
        body = {"agency": agency, "kind": kind, "name": name, "title": title}
        return dict(self._request("POST", "/internal/v1/certificates", json=body).json())

    def revoke(self, agency: str, serial: str, reason: str | None) -> Answer:
        body = {"agency": agency, "reason": reason}
        path = f"/internal/v1/certificates/{serial}/revoke"
        return dict(self._request("POST", path, json=body).json())


class MetricsClient(_Client):
    """Ingest's e-share metrics API, acting for the monitor's agency (it sees itself and
    the agencies below it; ingest and routing enforce that, not this client)."""

    service = "ingest"

    def _get(self, agency: str, path: str, params: dict[str, str]) -> requests.Response:
        return self._request(
            "GET", f"/v1/metrics/e-share{path}", headers={ACTING_HEADER: agency}, params=params
        )

    def figures(self, agency: str, params: dict[str, str]) -> Answer:
        return dict(self._get(agency, "", params).json())

    def exchanges(self, agency: str, params: dict[str, str]) -> Answer:
        return dict(self._get(agency, "/exchanges", params).json())

    def overdue(self, agency: str, params: dict[str, str]) -> Answer:
        return dict(self._get(agency, "/overdue", params).json())

    def ranking(self, agency: str, params: dict[str, str]) -> Answer:
        return dict(self._get(agency, "/ranking", params).json())

    def download(self, agency: str, path: str, params: dict[str, str]) -> tuple[bytes, str, str]:
        """An export or the quarterly report: its bytes, type and file name header."""
        response = self._get(agency, path, params)
        return (
            response.content,
            response.headers.get("Content-Type", "application/octet-stream"),
            response.headers.get("Content-Disposition", "attachment"),
        )

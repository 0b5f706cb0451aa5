"""The signing service's XML-DSig API, as ingest uses it: verify a posted package's
signature, sign an emitted package with the agency's organization key. The keys and
the trust anchors stay in the signing service; this is its HTTP client."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import requests

from services.common.errors import NotFound, PayloadTooLarge, Unavailable, ValidationFailed

XML = "application/xml"


class XmlSignatures(Protocol):
    def verify(self, package: Path) -> dict[str, Any]:
        """``{"verdict", "signer", "organization", "serial", "reasons"}`` of the
        package's signature (verdict as services.common.contract.Verdict values)."""
        ...

    def sign(self, agency: str, package: bytes) -> bytes:
        """The package signed with the agency's organization certificate."""
        ...


class SigningXmlClient:
    """:class:`XmlSignatures` over HTTP, with the service token."""

    def __init__(self, base_url: str, service_token: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {service_token}"

    def verify(self, package: Path) -> dict[str, Any]:
        with package.open("rb") as body:
            response = self._post("/v1/xml/verify", body)
        answer = response.json()
        if not isinstance(answer, dict) or "verdict" not in answer:
            raise Unavailable("the signing service's verdict on a package is malformed")
        return answer

    def sign(self, agency: str, package: bytes) -> bytes:
        return self._post("/v1/xml/sign", package, params={"agency": agency}).content

    def _post(self, path: str, body: Any, params: dict[str, str] | None = None) -> Any:
        try:
            response = self.session.post(
                self.base_url + path,
                data=body,
                params=params,
                headers={"Content-Type": XML},
                timeout=self.timeout,
            )
        except requests.RequestException as e:
            raise Unavailable(f"the signing service cannot be reached: {e}") from e
        if response.status_code == 200:
            return response
        try:
            detail = str(response.json().get("detail", response.text))
        except ValueError:
            detail = response.text[:500]
        if response.status_code == 404:
            raise NotFound(detail)
        if response.status_code == 413:
            raise PayloadTooLarge(detail)
        if response.status_code in (400, 409, 422):
            raise ValidationFailed(detail)
        raise Unavailable(f"the signing service answered {response.status_code}: {detail}")

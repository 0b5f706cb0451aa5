"""Bearer tokens, and the service-to-service token (the agency API-key format is
ingest's: ``services.ingest.apikeys``)."""

from __future__ import annotations

import hmac

from flask import Request

from services.common.errors import Unauthorized


def bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
    return token.strip()


def require_service_token(request: Request, expected: str) -> None:
    if not hmac.compare_digest(bearer_token(request).encode(), expected.encode()):
        raise Unauthorized("this endpoint is for the platform's own services")

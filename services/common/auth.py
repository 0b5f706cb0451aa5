"""Agency API keys and the service-to-service token."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Request

from services.common.errors import Unauthorized

API_KEY_PREFIX = "lt_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a plain SHA-256 is enough: no dictionary to attack.
    return hashlib.sha256(key.encode()).hexdigest()


def bearer_token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
    return token.strip()


def require_service_token(request: Request, expected: str) -> None:
    if not hmac.compare_digest(bearer_token(request).encode(), expected.encode()):
        raise Unauthorized("this endpoint is for the platform's own services")

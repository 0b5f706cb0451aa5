"""Who is calling the agency-facing API: the agency an API key belongs to."""

from __future__ import annotations

from flask import g, request

from services.common.auth import bearer_token
from services.common.wiring import current
from services.ingest.context import IngestContext


def authenticate() -> None:
    """Before a request: the agency behind the bearer key, or 401."""
    g.agency = current(IngestContext).api_keys.agency_of(bearer_token(request))


def calling_agency() -> str:
    """The authenticated agency's code (``authenticate`` ran for this request)."""
    agency = g.get("agency")
    if not isinstance(agency, str):
        raise RuntimeError("calling_agency() outside an authenticated request")
    return agency

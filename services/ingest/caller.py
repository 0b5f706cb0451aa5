"""Who is calling the agency-facing API: the agency an API key belongs to, or the
agency the platform's own web app acts for (the service token and ``X-Acting-Agency``)."""

from __future__ import annotations

import hmac

from flask import g, request

from services.common.auth import bearer_token
from services.common.errors import Unauthorized
from services.common.wiring import current
from services.ingest.context import IngestContext

#: The agency the web app acts for; honoured only with the service token.
ACTING_HEADER = "X-Acting-Agency"


def authenticate() -> None:
    """Before a request: the agency behind the bearer key, or 401."""
    ctx = current(IngestContext)
    token = bearer_token(request)
    acting = request.headers.get(ACTING_HEADER)
    if acting is not None:
        # The web app acts for one of its users' agencies under exactly the rules an
        # agency's own system meets; only the platform's service token may ask it.
        if not hmac.compare_digest(token.encode(), ctx.settings.common.service_token.encode()):
            raise Unauthorized(f"{ACTING_HEADER} needs the platform's service token")
        if not ctx.known_agencies.known([acting]):
            raise Unauthorized(f"agency {acting} is not registered")
        g.agency = acting
        return
    g.agency = ctx.api_keys.agency_of(token)


def calling_agency() -> str:
    """The authenticated agency's code (``authenticate`` ran for this request)."""
    agency = g.get("agency")
    if not isinstance(agency, str):
        raise RuntimeError("calling_agency() outside an authenticated request")
    return agency

"""What ingest checks from a request's headers alone, before waitress reads the body:
the API key of any request that carries one, and the declared size against the limit
of its endpoint. An unauthenticated or oversize upload is refused with nothing spooled."""

from __future__ import annotations

import hmac

from services.common.errors import Unauthorized
from services.common.runtime import Gate, Refusal, RequestHead
from services.ingest.apikeys import ApiKeys

UPLOAD_PATH = "/v1/documents"
PACKAGE_PATH = "/v1/edxml"  # an edXML package
#: Anyone may call these; they take no body worth reading either.
PUBLIC_PATHS = frozenset({"/openapi.json", "/v1/receipts/key", "/healthz", "/metrics"})


def ingest_gate(
    api_keys: ApiKeys,
    *,
    upload_limit: int,
    json_limit: int,
    package_limit: int | None = None,
    service_token: str | None = None,
) -> Gate:
    """``upload_limit``: the largest ``POST /v1/documents`` body (the PDF, its metadata
    and the multipart framing); ``package_limit``: the largest ``POST /v1/edxml`` body
    (the upload limit when not given); ``json_limit``: the largest body anywhere else.
    ``service_token``: the web app's, acting for an agency (the views check which)."""
    limits = {UPLOAD_PATH: upload_limit, PACKAGE_PATH: package_limit or upload_limit}

    def gate(head: RequestHead) -> Refusal | None:
        if not head.has_body:
            return None  # nothing to spool: the views authenticate as always
        limit = limits.get(head.path, json_limit)
        if head.path not in PUBLIC_PATHS:
            if head.bearer is None:
                return Refusal(
                    401, "Unauthorized", "send the API key as 'Authorization: Bearer <key>'"
                )
            platform = service_token is not None and hmac.compare_digest(
                head.bearer.encode(), service_token.encode()
            )
            try:
                if not platform:
                    api_keys.agency_of(head.bearer)
            except Unauthorized as e:
                return Refusal(401, "Unauthorized", e.detail)
        if head.content_length > limit:
            return Refusal(
                413,
                "Payload Too Large",
                f"the body is larger than the limit of {limit} bytes",
                element="edXML" if head.path == PACKAGE_PATH else None,
            )
        return None

    return gate

"""HTTP endpoints of the PKI: CA certificates, CRLs, OCSP (RFC 6960) and TSA (RFC 3161).

OCSP and TSA protocol errors answer in-protocol (HTTP 200 with an unsuccessful
OCSPResponse or a rejected TimeStampResp), as clients of those protocols expect;
everything else goes through the platform's problem+json errors.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote

from cryptography.x509 import ocsp
from flask import Blueprint, Response, request

from services.common.auth import bearer_token
from services.common.errors import Unauthorized
from services.common.wiring import current
from services.signing.context import SigningContext
from services.signing.pki.errors import PkiNotInitialized
from services.signing.pki.ocsp import MAX_REQUEST as OCSP_MAX
from services.signing.pki.ocsp import unsuccessful
from services.signing.pki.service import PkiService
from services.signing.pki.tsa import MAX_REQUEST as TSA_MAX
from services.signing.pki.tsa import refusal

CERT = "application/pkix-cert"
CRL = "application/pkix-crl"
OCSP_RESPONSE = "application/ocsp-response"
TIMESTAMP_REPLY = "application/timestamp-reply"

blueprint = Blueprint("pki", __name__, url_prefix="/pki")


def _pki() -> PkiService:
    return current(SigningContext).pki


def _binary(data: bytes, mimetype: str, *, max_age: int | None = None) -> Response:
    response = Response(data, mimetype=mimetype)
    if max_age is not None:
        response.cache_control.public = True
        response.cache_control.max_age = max_age
    else:
        response.cache_control.no_cache = True
    return response


def _body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than the protocol ever needs."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = request.stream.read(limit + 1)
    return None if len(data) > limit else data


@blueprint.get("/root.crt")
def root_certificate() -> Response:
    return _binary(_pki().root_der(), CERT, max_age=86400)


@blueprint.get("/issuing.crt")
def issuing_certificate() -> Response:
    return _binary(_pki().issuing_der(), CERT, max_age=86400)


@blueprint.get("/crl")
def crl() -> Response:
    return _binary(_pki().crl_der(), CRL)


@blueprint.get("/root.crl")
def root_crl() -> Response:
    return _binary(_pki().root_crl_der(), CRL)


def _ocsp_answer(request_der: bytes | None) -> Response:
    if request_der is None:
        answer = unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    else:
        try:
            answer = _pki().ocsp_response(request_der)
        except PkiNotInitialized:
            answer = unsuccessful(ocsp.OCSPResponseStatus.TRY_LATER)
    return _binary(answer, OCSP_RESPONSE)


@blueprint.post("/ocsp")
def ocsp_post() -> Response:
    return _ocsp_answer(_body(OCSP_MAX))


@blueprint.get("/ocsp/<path:encoded>", merge_slashes=False)
def ocsp_get(encoded: str) -> Response:
    """RFC 6960 A.1: the DER request, base64 then URL-encoded, as the last path segment."""
    text = unquote(encoded).strip()
    text += "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        decoded = None
    return _ocsp_answer(decoded if decoded is not None and len(decoded) <= OCSP_MAX else None)


def _tsa_caller_allowed() -> None:
    """LIENTHONG_TSA_ACCESS: open (anyone), token (the service token), agencies (the
    service token or one of LIENTHONG_TSA_TOKENS). Checked before the body is read."""
    settings = current(SigningContext).settings
    if settings.tsa_access == "open":
        return
    accepted = [settings.common.service_token]
    if settings.tsa_access == "agencies":
        accepted += settings.tsa_tokens
    given = bearer_token(request).encode()
    # every token is compared, so the time taken does not tell which one nearly matched
    if not sum(hmac.compare_digest(given, token.encode()) for token in accepted):
        raise Unauthorized("the time-stamp authority needs a bearer token it accepts")


@blueprint.post("/tsa")
def timestamp() -> Response:
    _tsa_caller_allowed()
    query = _body(TSA_MAX)
    if query is None:
        answer = refusal("bad_data_format", "the request is too large").dump()
    else:
        try:
            answer = _pki().timestamp_reply(query)
        except PkiNotInitialized:
            answer = refusal("system_failure", "the time-stamp authority is not set up").dump()
    return _binary(answer, TIMESTAMP_REPLY)

"""Signing's XML-DSig API for edXML packages (service token): sign a package with an
agency's organization key, verify a package's signature against the trust anchors.
Ingest calls these; the keys and the trust anchors stay here."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.errors import BadRequest, ValidationFailed
from services.common.wiring import current
from services.signing.context import SigningContext
from services.signing.xmldsig import sign_package, verify_package

xml_api = Blueprint("signing_xml_api", __name__)

XML_TYPES = ("application/xml", "text/xml")


@xml_api.before_request
def _service_only() -> None:
    require_service_token(request, current(SigningContext).settings.common.service_token)


def _package() -> bytes:
    if request.mimetype not in XML_TYPES:
        raise BadRequest("send the package with Content-Type application/xml")
    data = request.get_data(cache=False)
    if not data:
        raise ValidationFailed("the package is empty")
    return data


@xml_api.post("/v1/xml/sign")
def sign() -> Response:
    """``?agency=CODE``: the package signed with the agency's organization certificate."""
    ctx = current(SigningContext)
    agency = (request.args.get("agency") or "").strip()
    if not agency:
        raise ValidationFailed("agency is required", [{"field": "agency", "message": "required"}])
    data = _package()
    signer, record = ctx.pki.signer(agency, "organization")
    chain = [record.der, ctx.pki.issuing_der()]
    signed = sign_package(data, signer, chain)
    response = Response(signed, mimetype="application/xml")
    response.headers["X-Signer-Serial"] = record.serial
    return response


@xml_api.post("/v1/xml/verify")
def verify() -> Response:
    """The verdict on a package's XML-DSig signature, its signer and the reasons."""
    ctx = current(SigningContext)
    return jsonify(verify_package(_package(), list(ctx.pki.trust_roots())).to_json())

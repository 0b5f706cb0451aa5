"""Signing's XML-DSig API for edXML packages (service token): sign a package with an
agency's organization key, verify a package's signature against the trust anchors.
Ingest calls these; the keys and the trust anchors stay here."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from services.common.auth import require_service_token
from services.common.contract import Verdict
from services.common.errors import BadRequest, PayloadTooLarge, ValidationFailed
from services.common.wiring import current
from services.signing.context import SigningContext
from services.signing.xmldsig import PackageSignature, sign_package, verify_package

xml_api = Blueprint("signing_xml_api", __name__)

XML_TYPES = ("application/xml", "text/xml")


@xml_api.before_request
def _service_only() -> None:
    require_service_token(request, current(SigningContext).settings.common.service_token)


def _package() -> bytes | None:
    """The package, or None when it is larger than the settings allow to sign or check."""
    if request.mimetype not in XML_TYPES:
        raise BadRequest("send the package with Content-Type application/xml")
    limit = current(SigningContext).settings.xml_signature_max_bytes
    if (request.content_length or 0) > limit:
        return None
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        return None
    if not data:
        raise ValidationFailed("the package is empty")
    return data


def _too_large() -> str:
    limit = current(SigningContext).settings.xml_signature_max_bytes
    return f"the package is larger than {limit} bytes (LIENTHONG_XML_SIGNATURE_MAX_BYTES)"


@xml_api.post("/v1/xml/sign")
def sign() -> Response:
    """``?agency=CODE``: the package signed with the agency's organization certificate."""
    ctx = current(SigningContext)
    agency = (request.args.get("agency") or "").strip()
    if not agency:
        raise ValidationFailed("agency is required", [{"field": "agency", "message": "required"}])
    data = _package()
    if data is None:
        raise PayloadTooLarge(f"{_too_large()}: it is not signed")
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
    data = _package()
    if data is None:  # nothing proven wrong, nothing proven right
        reason = f"{_too_large()}: its signature is not checked"
        return jsonify(PackageSignature(Verdict.INDETERMINATE, reasons=[reason]).to_json())
    return jsonify(verify_package(data, list(ctx.pki.trust_roots())).to_json())

"""OpenAPI 3.1 for the edXML paths (merged into ingest's /openapi.json)."""

from __future__ import annotations

from typing import Any

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_XML = {"application/xml": {"schema": {"type": "string"}}}
_DOC = {"$ref": "#/components/parameters/DocumentId"}
_SIGNED = {
    "name": "signed",
    "in": "query",
    "required": False,
    "description": "1: signed (XML-DSig) with the agency's organization certificate",
    "schema": {"type": "string", "enum": ["0", "1"]},
}
_POLICY = {
    "type": "object",
    "properties": {
        "agency": {"type": "string"},
        "require_signed_packages": {"type": "boolean"},
    },
}


def _problems(*codes: int) -> dict[str, Any]:
    return {str(code): _PROBLEM for code in codes}


EDXML_PATHS: dict[str, Any] = {
    "/v1/edxml": {
        "post": {
            "summary": "Post an edXML package (QCVN 102:2016): a document (BussinessDocType 0), "
            "a recall (1), an update (2), a replacement (3), or a status message",
            "description": "Either namespace (http://www.mic.gov.vn/TBT/QCVN_102_2016, "
            "http://www.go.vn/eDoc), with or without the edXML: prefix. A refusal is "
            "problem+json whose `element` names the wrong element.",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                }
            ],
            "requestBody": {"required": True, "content": _XML},
            "responses": {
                "201": {
                    "description": "A document was accepted (action: document, update, "
                    "replace), with its id, DocumentId, attachments and signature verdict"
                },
                "200": {
                    "description": "A recall was asked (action: recall, the deliveries), "
                    "a status was recorded (action: status), or an idempotent replay"
                },
                **_problems(400, 401, 403, 404, 409, 413, 422),
            },
        }
    },
    "/v1/edxml/policy": {
        "get": {
            "summary": "Whether the agency's packages must be validly signed",
            "responses": {
                "200": {
                    "description": "The policy",
                    "content": {"application/json": {"schema": _POLICY}},
                },
                **_problems(401),
            },
        },
        "put": {
            "summary": "Set whether the agency's packages must be validly signed",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _POLICY}}},
            "responses": {
                "200": {
                    "description": "The policy",
                    "content": {"application/json": {"schema": _POLICY}},
                },
                **_problems(400, 401, 422),
            },
        },
    },
    "/v1/documents/{id}/edxml": {
        "get": {
            "summary": "The document as an edXML package with its attachments",
            "parameters": [_DOC, _SIGNED],
            "responses": {
                "200": {"description": "The package", "content": _XML},
                **_problems(401, 403, 404),
            },
        }
    },
    "/v1/documents/{id}/attachments/{position}": {
        "get": {
            "summary": "One file of a document that arrived as a package, as it came",
            "parameters": [
                _DOC,
                {"name": "position", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {"200": {"description": "The file"}, **_problems(401, 403, 404)},
        }
    },
    "/v1/deliveries/{id}/status.edxml": {
        "get": {
            "summary": "The delivery's latest status as an edXML status package",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                _SIGNED,
            ],
            "responses": {
                "200": {"description": "The status package", "content": _XML},
                **_problems(401, 403, 404),
            },
        }
    },
}

"""OpenAPI 3.1 description of the ingest API, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from services.ingest.edxml.openapi import EDXML_PATHS
from services.ingest.metrics.openapi import METRICS_PATHS
from services.ingest.validation import REPORTED_BY_RECIPIENT
from services.ingest.webhooks.openapi import WEBHOOK_PATHS, WEBHOOKS

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _problems(*codes: int) -> dict[str, Any]:
    return {str(code): _PROBLEM for code in codes}


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Liên Thông ingest API",
        "version": "1",
        "description": "Agency document systems post official documents, pull their inbox "
        "and report processing status (QCVN 102:2016 edXML field names). An agency may "
        "register a webhook to have deliveries and status changes pushed to it.",
    },
    "security": [{"agencyKey": []}],
    "paths": {
        "/v1/documents": {
            "post": {
                "summary": "Send a document (PDF + edXML metadata) to one or more agencies",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file", "metadata"],
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "metadata": {"$ref": "#/components/schemas/Metadata"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": {
                        "description": "Accepted",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Accepted"}
                            }
                        },
                    },
                    **_problems(400, 401, 409, 413, 422),
                },
            }
        },
        "/v1/documents/{id}": {
            "get": {
                "summary": "A document's metadata and each recipient's delivery status",
                "parameters": [{"$ref": "#/components/parameters/DocumentId"}],
                "responses": {"200": {"description": "The document"}, **_problems(401, 403, 404)},
            }
        },
        "/v1/documents/{id}/content": {
            "get": {
                "summary": "The PDF bytes, streamed",
                "description": "A document that came as an edXML package without any PDF "
                "serves its first file here, with that file's type and name.",
                "parameters": [{"$ref": "#/components/parameters/DocumentId"}],
                "responses": {
                    "200": {
                        "description": "The PDF",
                        "content": {
                            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                            "*/*": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    **_problems(401, 403, 404),
                },
            }
        },
        "/v1/inbox": {
            "get": {
                "summary": "The calling agency's incoming deliveries, newest first",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                    {"name": "view", "in": "query", "schema": {"enum": ["all"]}},
                    {
                        "name": "from",
                        "in": "query",
                        "description": "Only what this agency sent",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "since",
                        "in": "query",
                        "description": "Arrived at or after (ISO 8601)",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "until",
                        "in": "query",
                        "description": "Arrived before (ISO 8601)",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "overdue",
                        "in": "query",
                        "description": "1: only what is overdue and not finished",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "description": "Words of the subject or of the DocumentId",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {"200": {"description": "Inbox items"}, **_problems(400, 401)},
            }
        },
        "/v1/agencies": {
            "get": {
                "summary": "The registry: every agency's code, name and parent",
                "responses": {"200": {"description": "Agencies"}, **_problems(401)},
            }
        },
        "/v1/deliveries/{delivery_id}/status": {
            "post": {
                "summary": "Report a status (02, 03, 04, 05, 06, 15, 16) on a delivery",
                "parameters": [
                    {
                        "name": "delivery_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["code"],
                                "properties": {
                                    "code": {
                                        "type": "string",
                                        "enum": sorted(s.value for s in REPORTED_BY_RECIPIENT),
                                    },
                                    "description": {"type": "string"},
                                    "staff": {"type": "object"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "The delivery's new status"},
                    **_problems(400, 401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/v1/documents/{id}/recall": {
            "post": {
                "summary": "The sender asks every recipient to give the document back (13)",
                "parameters": [{"$ref": "#/components/parameters/DocumentId"}],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "reason": {"type": "string"},
                                    "staff": {"type": "object"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": {"description": "The take-back request"},
                    **_problems(400, 401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/v1/documents/{id}/timeline": {
            "get": {
                "summary": "Every event of every delivery, in order (a recipient: its own)",
                "parameters": [{"$ref": "#/components/parameters/DocumentId"}],
                "responses": {
                    "200": {"description": "The timeline"},
                    **_problems(401, 403, 404, 503),
                },
            }
        },
        "/v1/deliveries/{delivery_id}/receipt": {
            "get": {
                "summary": "A delivery receipt signed by the platform (sender or recipient)",
                "parameters": [
                    {
                        "name": "delivery_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": {"description": "The receipt"},
                    **_problems(401, 403, 404, 503),
                },
            }
        },
        "/v1/receipts/key": {
            "get": {
                "security": [],
                "summary": "The platform's public key, to check receipts offline",
                "responses": {"200": {"description": "The key"}, **_problems(503)},
            }
        },
        "/v1/overdue": {
            "get": {
                "summary": "The calling agency's open deliveries past their due time, oldest first",
                "parameters": [{"name": "agency", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "Overdue deliveries"},
                    **_problems(401, 403, 503),
                },
            }
        },
        **WEBHOOK_PATHS,
        **METRICS_PATHS,
        **EDXML_PATHS,
        "/metrics": {
            "get": {
                "security": [],
                "summary": "Prometheus metrics of this service (text exposition format)",
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "security": [],
                "summary": "Health",
                "responses": {
                    "200": {"description": "Healthy"},
                    "503": {"description": "A dependency fails"},
                },
            }
        },
    },
    "webhooks": WEBHOOKS,
    "components": {
        "securitySchemes": {"agencyKey": {"type": "http", "scheme": "bearer"}},
        "parameters": {
            "DocumentId": {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "format": "uuid"},
            }
        },
        "responses": {
            "Problem": {
                "description": "RFC 9457 problem",
                "content": {
                    "application/problem+json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "type": {"type": "string"},
                                "title": {"type": "string"},
                                "status": {"type": "integer"},
                                "detail": {"type": "string"},
                                "code": {"type": "string"},
                                "errors": {"type": "array"},
                            },
                        }
                    }
                },
            }
        },
        "schemas": {
            "Accepted": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "document_id": {"type": "string"},
                    "sha256": {"type": "string"},
                    "size": {"type": "integer"},
                },
            },
            "Metadata": {
                "type": "object",
                "description": "edXML (QCVN 102:2016) field names",
                "required": [
                    "To",
                    "Code",
                    "Subject",
                    "DocumentType",
                    "PromulgationInfo",
                    "SignerInfo",
                ],
                "properties": {
                    "To": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["OrganId"],
                            "properties": {"OrganId": {"type": "string"}},
                        },
                    },
                    "Code": {
                        "type": "object",
                        "properties": {
                            "CodeNumber": {"type": "string"},
                            "CodeNotation": {"type": "string"},
                        },
                    },
                    "Subject": {"type": "string"},
                    "DocumentType": {
                        "type": "object",
                        "properties": {"Type": {"type": "string"}, "TypeName": {"type": "string"}},
                    },
                    "PromulgationInfo": {
                        "type": "object",
                        "properties": {
                            "Place": {"type": "string"},
                            "PromulgationDate": {"type": "string", "example": "2026/11/21"},
                        },
                    },
                    "SignerInfo": {
                        "type": "object",
                        "properties": {
                            "Competence": {"type": "string"},
                            "Position": {"type": "string"},
                            "FullName": {"type": "string"},
                        },
                    },
                    "DueDate": {"type": ["string", "null"]},
                    "OtherInfo": {
                        "type": "object",
                        "properties": {"Priority": {"type": "integer", "enum": [0, 1, 2, 3, 4]}},
                    },
                    "SteeringType": {"type": "integer", "enum": [0, 1, 2]},
                    "Paper": {"type": "integer", "enum": [0, 1]},
                },
            },
        },
    },
}

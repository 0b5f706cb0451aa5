"""OpenAPI 3.1 for push delivery: the /v1/webhook paths, and the pushes themselves
(the document's top-level ``webhooks``)."""

from __future__ import annotations

from typing import Any

from services.ingest.webhooks.rules import (
    EVENT_DUE_SOON,
    EVENT_OVERDUE,
    EVENT_RECEIVED,
    EVENT_STATUS,
    EVENTS,
    HEADER_ATTEMPT,
    HEADER_DELIVERY,
    HEADER_EVENT,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
)

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _problems(*codes: int) -> dict[str, Any]:
    return {str(code): _PROBLEM for code in codes}


_CONFIG = {
    "type": "object",
    "properties": {
        "agency": {"type": "string"},
        "url": {"type": "string", "format": "uri"},
        "events": {"type": ["array", "null"], "items": {"type": "string", "enum": list(EVENTS)}},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

WEBHOOK_PATHS: dict[str, Any] = {
    "/v1/webhook": {
        "put": {
            "summary": "Register (or replace) the agency's webhook; answers a new secret, once",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["url"],
                            "properties": {
                                "url": {"type": "string", "format": "uri"},
                                "events": {
                                    "type": "array",
                                    "items": {"type": "string", "enum": list(EVENTS)},
                                    "description": "only these events; missing or empty: all",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": {"description": "Registered; `secret` is shown only now"},
                "200": {"description": "Replaced; `secret` is new and shown only now"},
                **_problems(400, 401, 422),
            },
        },
        "get": {
            "summary": "The agency's webhook, without its secret",
            "responses": {
                "200": {
                    "description": "The webhook",
                    "content": {"application/json": {"schema": _CONFIG}},
                },
                **_problems(401, 404),
            },
        },
        "delete": {
            "summary": "Remove the agency's webhook (queued pushes are not sent)",
            "responses": {"204": {"description": "Removed"}, **_problems(401, 404)},
        },
    },
    "/v1/webhook/deliveries": {
        "get": {
            "summary": "The agency's pushes, newest first, with attempts and the last error",
            "parameters": [
                {
                    "name": "state",
                    "in": "query",
                    "schema": {"type": "string", "enum": ["pending", "delivered", "dead"]},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                },
            ],
            "responses": {"200": {"description": "Pushes"}, **_problems(400, 401)},
        }
    },
    "/v1/webhook/deliveries/{id}/retry": {
        "post": {
            "summary": "Send a dead (or waiting) push again now",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "Queued"}, **_problems(401, 404, 409)},
        }
    },
}


def _push(summary: str) -> dict[str, Any]:
    header = {"required": True, "schema": {"type": "string"}}
    return {
        "post": {
            "summary": summary,
            "security": [],
            "parameters": [
                {"name": HEADER_EVENT, "in": "header", **header},
                {"name": HEADER_DELIVERY, "in": "header", **header},
                {"name": HEADER_TIMESTAMP, "in": "header", **header},
                {
                    "name": HEADER_SIGNATURE,
                    "in": "header",
                    **header,
                    "description": 'sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>',
                },
                {"name": HEADER_ATTEMPT, "in": "header", **header},
            ],
            "requestBody": {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "type": {"type": "string"},
                                "agency": {"type": "string"},
                                "role": {"type": "string", "enum": ["recipient", "sender"]},
                                "occurred_at": {"type": "string", "format": "date-time"},
                                "data": {"type": "object"},
                            },
                        }
                    }
                }
            },
            "responses": {
                "2XX": {"description": "Delivered"},
                "429": {"description": "Retried later"},
                "5XX": {"description": "Retried later"},
                "4XX": {"description": "Not retried: the push is dead"},
            },
        }
    }


WEBHOOKS: dict[str, Any] = {
    EVENT_RECEIVED: _push("A new delivery is in the agency's inbox"),
    EVENT_STATUS: _push("A status changed on a delivery the agency receives or sent"),
    EVENT_DUE_SOON: _push("A delivery the agency must handle is nearly due"),
    EVENT_OVERDUE: _push("A delivery the agency receives (or sent: escalation) is past due"),
}

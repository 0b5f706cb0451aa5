"""One exception tree for every service, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any


class LienThongError(Exception):
    """Base of every error the platform raises on purpose."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": f"https://lienthong.gov.vn/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        if instance:
            problem["instance"] = instance
        problem.update(self.extra)
        return problem


class SettingsError(LienThongError):
    code = "bad_setting"
    title = "Bad setting"


class BadRequest(LienThongError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class ValidationFailed(LienThongError):
    status = 422
    code = "validation_failed"
    title = "Validation failed"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])
        self.errors = errors or []


class PayloadTooLarge(LienThongError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class Unauthorized(LienThongError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(LienThongError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(LienThongError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(LienThongError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unavailable(LienThongError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


class StorageError(Unavailable):
    code = "storage_error"
    title = "Object storage error"


class BusError(Unavailable):
    code = "bus_error"
    title = "Message bus error"


class MessageFormatError(LienThongError):
    """A bus message that cannot be decoded: never retried, sent to lt.dead at once."""

    code = "bad_message"
    title = "Malformed message"

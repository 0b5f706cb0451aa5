"""The bodies of the services' internal HTTP APIs, parsed in one place.

The caller builds one of these and sends ``to_json()``; the service that answers reads
it with ``from_json``, which refuses a body of the wrong shape with a 400. Neither side
imports the other: this module is their contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, NotRequired, TypedDict

from services.common.contract import Status
from services.common.errors import BadRequest
from services.common.settings import InputLimits

#: Who did what, as the reporting system tells it (edXML StaffInfo: names, roles...).
StaffInfo = dict[str, object]


def staff_problem(staff: object, limits: InputLimits) -> str | None:
    """Why ``staff`` cannot be recorded (None when it can): an object, nested at most
    ``staff_max_depth`` deep, at most ``staff_max_bytes`` as compact JSON. Checked
    without recursion, so no depth can overflow the stack; the sender checks it and
    the receiver checks it again."""
    if not isinstance(staff, dict):
        return "staff must be an object"
    stack: list[tuple[object, int]] = [(staff, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limits.staff_max_depth:
                return f"staff is nested more than {limits.staff_max_depth} deep"
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    try:
        size = len(json.dumps(staff, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError, UnicodeEncodeError):
        return "staff must be plain JSON text, numbers and objects"
    if size > limits.staff_max_bytes:
        return f"staff is larger than {limits.staff_max_bytes} bytes"
    return None


def text_problem(name: str, value: object, limits: InputLimits) -> str | None:
    """Why a description (or a reason) cannot be recorded: text of bounded length."""
    if not isinstance(value, str):
        return f"{name} must be text"
    if len(value) > limits.description_max_chars:
        return f"{name} is longer than {limits.description_max_chars} characters"
    return None


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadRequest(f"{name} must be {'non-empty ' if required else ''}text")
    return value


def _is_time(value: object) -> bool:
    try:
        return isinstance(value, str) and len(value) <= 64 and bool(datetime.fromisoformat(value))
    except ValueError:
        return False


def _staff(body: dict[str, Any], limits: InputLimits) -> StaffInfo:
    value = body.get("staff")
    if value is None:
        return {}
    problem = staff_problem(value, limits)
    if problem is not None:
        raise BadRequest(problem)
    assert isinstance(value, dict)
    return value


def _bounded_text(body: dict[str, Any], name: str, limits: InputLimits) -> str:
    value = _text(body, name)
    problem = text_problem(name, value, limits)
    if problem is not None:
        raise BadRequest(problem)
    return value


@dataclass(frozen=True)
class StatusReport:
    """``POST /internal/v1/deliveries/{id}/status``: a status an agency reports."""

    code: Status
    reported_by: str  # the reporting agency's code
    description: str = ""
    staff: StaffInfo = field(default_factory=dict)
    arrived_at: str | None = None  # when ingest put the copy in the inbox (status 01)

    @classmethod
    def from_json(cls, body: dict[str, Any], limits: InputLimits | None = None) -> StatusReport:
        code = Status.of(body.get("code") if isinstance(body.get("code"), str) else None)
        if code is None:
            raise BadRequest(f"{body.get('code')!r} is not an edXML status code")
        arrived_at = body.get("arrived_at")
        if arrived_at is not None and not _is_time(arrived_at):
            raise BadRequest("arrived_at must be an ISO 8601 time")
        return cls(
            code=code,
            reported_by=_text(body, "reported_by", required=True),
            description=_bounded_text(body, "description", limits or InputLimits()),
            staff=_staff(body, limits or InputLimits()),
            arrived_at=arrived_at or None,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "code": self.code.value}


TAKE_BACK_KINDS = ("recall", "update", "replace")


@dataclass(frozen=True)
class TakeBackRequest:
    """``POST /internal/v1/documents/{id}/take-back``: the sender asks for a document back."""

    requested_by: str  # the sending agency's code
    kind: str = "recall"  # recall | update | replace (edXML BussinessDocType 1, 2, 3)
    reason: str = ""
    staff: StaffInfo = field(default_factory=dict)
    replaced_by: str | None = None  # our id of the update or replacement

    @classmethod
    def from_json(cls, body: dict[str, Any], limits: InputLimits | None = None) -> TakeBackRequest:
        kind = body.get("kind") or "recall"
        if kind not in TAKE_BACK_KINDS:
            raise BadRequest(f"unknown take-back {kind!r}: recall, update or replace")
        replaced_by = body.get("replaced_by")
        if replaced_by is not None and not isinstance(replaced_by, str):
            raise BadRequest("replaced_by must be a document id")
        return cls(
            requested_by=_text(body, "requested_by", required=True),
            kind=kind,
            reason=_bounded_text(body, "reason", limits or InputLimits()),
            staff=_staff(body, limits or InputLimits()),
            replaced_by=replaced_by,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- what routing answers (ingest forwards these to the agency as they are) ----------
# "OrganId" is edXML's name for an agency code: these answers speak it to agencies.


class TakeBackOutcome(TypedDict):
    OrganId: str  # the recipient agency
    delivery_id: str
    requested: bool
    reason: NotRequired[str]  # why it could not be asked
    status: str | None


class TakeBackAnswer(TypedDict):
    """The answer to a ``TakeBackRequest``: what was asked of each recipient."""

    document: str
    kind: str
    deliveries: list[TakeBackOutcome]


class TimelineDelivery(TypedDict):
    delivery_id: str
    OrganId: str
    status: str | None
    due_at: str | None
    take_back: str | None
    replaced_by: str | None


class TimelineEvent(TypedDict):
    delivery_id: str
    OrganId: str
    seq: int
    code: str
    status_after: str | None
    at: str
    reported_by: str
    description: str
    staff: StaffInfo


class Timeline(TypedDict):
    """``GET /internal/v1/documents/{id}/timeline``: every delivery and every event."""

    document: str
    document_id: str
    sender: str
    sent_at: str
    supersedes: str | None
    deliveries: list[TimelineDelivery]
    events: list[TimelineEvent]


class ReceiptAnswer(TypedDict):
    """``GET /internal/v1/deliveries/{id}/receipt``: a signed receipt (compact JWS)."""

    receipt: str
    key_id: str


class ReceiptKeyAnswer(TypedDict):
    """``GET /internal/v1/receipts/key``: the key that checks receipts."""

    key_id: str
    public_key_pem: str
    jwk: dict[str, str]


class OverdueItem(TypedDict):
    delivery_id: str
    document: str
    document_id: str
    sender: str
    due_at: str
    overdue_by_seconds: int
    status: str | None
    subject: str


class OverdueListing(TypedDict):
    """``GET /internal/v1/overdue?agency=CODE``: open deliveries past their due time."""

    agency: str
    now: str
    total: int
    overdue: list[OverdueItem]


# --- the e-document share (routing's ledger; ingest answers agencies with it) -------

GROUPS = ("day", "month", "quarter", "agency")
#: The longest period one query may cover (days): two years and a leap day, and some.
MAX_PERIOD_DAYS = 3 * 366


def _day(args: Mapping[str, str], name: str) -> date:
    raw = args.get(name)
    if not raw:
        raise BadRequest(f"{name} is required: a Vietnam calendar day, YYYY-MM-DD")
    try:
        if len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as e:
        raise BadRequest(f"{name} must be a day YYYY-MM-DD, got {raw[:40]!r}") from e


def _flag(args: Mapping[str, str], name: str) -> bool | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise BadRequest(f"{name} must be true or false, got {raw[:40]!r}")


@dataclass(frozen=True)
class EShareQuery:
    """``GET /internal/v1/metrics/e-share[/exchanges|/overdue]``: what a viewer asks.

    ``viewer`` is the calling agency (ingest fills it in from the API key): it sees
    itself and the agencies below it, never another. ``agency`` defaults to it."""

    viewer: str
    agency: str
    start: date  # the first Vietnam day of the period (``from``)
    end: date  # the last one, included (``to``)
    group_by: str | None = None
    include_children: bool = False
    fully_electronic: bool | None = None  # the exchanges listing only
    reason: str | None = None  # the exchanges listing only: one reason code

    @classmethod
    def from_args(cls, args: Mapping[str, str], viewer: str | None = None) -> EShareQuery:
        viewer = viewer or args.get("viewer") or ""
        if not viewer:
            raise BadRequest("viewer is required")
        start, end = _day(args, "from"), _day(args, "to")
        if end < start:
            raise BadRequest("to must not be before from")
        if (end - start).days >= MAX_PERIOD_DAYS:
            raise BadRequest(f"a period covers at most {MAX_PERIOD_DAYS} days")
        group_by = args.get("group_by") or None
        if group_by is not None and group_by not in GROUPS:
            raise BadRequest(f"group_by must be one of {', '.join(GROUPS)}")
        reason = args.get("reason") or None
        if reason is not None and (len(reason) > 40 or not reason.replace("_", "").isalnum()):
            raise BadRequest("reason must be a reason code")
        return cls(
            viewer=viewer,
            agency=args.get("agency") or viewer,
            start=start,
            end=end,
            group_by=group_by,
            include_children=bool(_flag(args, "include_children")),
            fully_electronic=_flag(args, "fully_electronic"),
            reason=reason,
        )

    def to_params(self) -> dict[str, str]:
        params = {
            "viewer": self.viewer,
            "agency": self.agency,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "include_children": "true" if self.include_children else "false",
        }
        if self.group_by:
            params["group_by"] = self.group_by
        if self.fully_electronic is not None:
            params["fully_electronic"] = "true" if self.fully_electronic else "false"
        if self.reason:
            params["reason"] = self.reason
        return params


class LatencyFigures(TypedDict):
    """Percentiles in seconds, each the upper bound of the bucket it falls in (None:
    no delivery, or beyond the last bucket of 30 days)."""

    count: int
    p50: int | None
    p90: int | None
    p95: int | None


class EShareFigures(TypedDict):
    exchanges: int  # sent in the period by the agencies counted
    fully_electronic: int
    share: float | None  # fully_electronic / exchanges
    signed: int  # with a valid signature of the sending organization
    signed_share: float | None
    taken_back: int
    due: int  # deliveries to the agencies counted, due in the period
    on_time: int  # completed (06) by their due time
    late: int  # completed after it
    on_time_share: float | None  # on_time / due
    overdue: int  # not completed, due before the day of the answer
    latency_sent_to_arrived: LatencyFigures  # sent → 01
    latency_arrived_to_registered: LatencyFigures  # 01 → 03
    # Per reason code (ledger.rules.Reason): how many of the exchanges have it.
    reasons: dict[str, int]


class EShareRow(EShareFigures):
    group: str  # 2026-04-01, 2026-04, 2026-Q2 or an agency code
    name: NotRequired[str]  # the agency's name (group_by=agency)


#: The answer to the figures' query ("from" is a keyword, hence this form).
EShareAnswer = TypedDict(
    "EShareAnswer",
    {
        "agency": str,
        "name": str | None,
        "from": str,
        "to": str,
        "include_children": bool,
        "agencies": list[str],  # every agency counted
        "as_of": str,  # the time overdue is judged at
        "totals": EShareFigures,
        "group_by": str | None,
        "rows": list[EShareRow],
    },
)


class EShareLevel(TypedDict):
    """The agencies at one level below the one asked for (0: itself), summed."""

    level: int
    agencies: int
    exchanges: int
    fully_electronic: int
    share: float | None
    overdue: int


class EShareRanked(EShareRow):
    rank: int  # 1 = the best share
    level: int  # below the agency asked for


#: ``GET /internal/v1/metrics/e-share/ranking``: the agencies below one, best share
#: first, a page at a time, and the figures per level.
EShareRanking = TypedDict(
    "EShareRanking",
    {
        "agency": str,
        "from": str,
        "to": str,
        "as_of": str,
        "level": int | None,  # the level ranked (None: every level below)
        "levels": list[EShareLevel],
        "total": int,  # agencies ranked
        "page": int,
        "pages": int,
        "size": int,
        "rows": list[EShareRanked],
    },
)


class ReasonView(TypedDict):
    code: str
    label: str  # Vietnamese


class EShareDelivery(TypedDict):
    OrganId: str
    arrived_at: str | None
    registered_at: str | None
    completed_at: str | None
    due_at: str | None
    due_state: str
    rejected: bool
    taken_back: bool


class EShareExchange(TypedDict):
    document: str
    document_id: str
    sender: str
    subject: str
    sent_at: str
    sent_day: str
    fully_electronic: bool
    signed: bool
    scanned: bool | None
    paper: bool
    taken_back: bool
    reasons: list[ReasonView]
    deliveries: list[EShareDelivery]


class EShareExchangePage(TypedDict):
    """The exchanges behind a figure, oldest first; ``next`` is the cursor of the
    following page (None on the last)."""

    total: int
    exchanges: list[EShareExchange]
    next: str | None


class EShareOverdueItem(TypedDict):
    delivery_id: str
    document: str
    document_id: str
    subject: str
    sender: str
    OrganId: str  # the recipient that owes the work
    due_at: str
    overdue_days: int


class EShareOverduePage(TypedDict):
    total: int | None  # None when not counted (count=false)
    as_of: str
    overdue: list[EShareOverdueItem]

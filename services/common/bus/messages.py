"""Versioned bus messages: frozen dataclasses ⇄ JSON envelopes.

Every message travels as ``{"id", "type", "version", "occurred_at", "payload"}``.
A reader knows exactly which (type, version) pairs it can parse; anything else
is a MessageFormatError and goes to lt.dead untouched.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar, get_type_hints

from services.common.errors import MessageFormatError


class Message:
    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


M = TypeVar("M", bound=type[Message])
MT = TypeVar("MT", bound=Message)

_REGISTRY: dict[tuple[str, int], type[Message]] = {}


def message(type_name: str, version: int) -> typing.Callable[[M], M]:
    def register(cls: M) -> M:
        key = (type_name, version)
        if key in _REGISTRY:
            raise RuntimeError(f"message {type_name} v{version} is defined twice")
        cls.TYPE = type_name
        cls.VERSION = version
        _REGISTRY[key] = cls
        return cls

    return register


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    version: int
    occurred_at: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies the payload, which was the largest
        # single cost of publishing. Payloads are built once and never changed.
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "payload": self.payload,
        }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def wrap(msg: Message, message_id: str | None = None) -> Envelope:
    return Envelope(
        id=message_id or str(uuid.uuid4()),
        type=msg.TYPE,
        version=msg.VERSION,
        occurred_at=now_iso(),
        payload=payload_of(msg),
    )


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def payload_of(msg: Message) -> dict[str, Any]:
    """A message's fields as a JSON-ready dict. Message fields are plain values
    (str, int, bool, None, tuples of str, JSON dicts), never nested dataclasses, so
    a shallow copy does what dataclasses.asdict did at a fraction of the cost."""
    cls = type(msg)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(msg))  # type: ignore[arg-type]
    return {name: getattr(msg, name) for name in names}


def read_envelope(body: Any) -> Envelope:
    if not isinstance(body, dict):
        raise MessageFormatError("a message body must be a JSON object")
    message_id, version = body.get("id"), body.get("version")
    if not isinstance(message_id, str) or not message_id.strip():
        raise MessageFormatError("a message needs a non-empty string id")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MessageFormatError("a message version must be an integer")
    if not isinstance(body.get("type"), str) or not isinstance(body.get("occurred_at"), str):
        raise MessageFormatError("a message needs a string type and occurred_at")
    if "payload" not in body:
        raise MessageFormatError("not a message envelope: no payload")
    envelope = Envelope(
        id=message_id,
        type=body["type"],
        version=version,
        occurred_at=body["occurred_at"],
        payload=body["payload"],
    )
    if not isinstance(envelope.payload, dict):
        raise MessageFormatError("the payload must be a JSON object")
    return envelope


def _check(value: Any, hint: Any, where: str) -> None:
    origin = typing.get_origin(hint)
    if hint is Any:
        return
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            try:
                _check(value, option, where)
                return
            except MessageFormatError as e:
                errors.append(str(e))
        raise MessageFormatError(f"{where}: {value!r} matches none of {hint}")
    if hint is type(None):
        if value is not None:
            raise MessageFormatError(f"{where}: expected null")
        return
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise MessageFormatError(f"{where}: expected a list")
        (item_hint, *_rest) = typing.get_args(hint) or (Any,)
        for i, item in enumerate(value):
            _check(item, item_hint, f"{where}[{i}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise MessageFormatError(f"{where}: expected an object")
        return
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise MessageFormatError(f"{where}: expected an integer")
    if hint in (str, bool, float) and not isinstance(value, hint):
        raise MessageFormatError(f"{where}: expected {hint.__name__}")


def parse(envelope: Envelope) -> Message:
    cls = _REGISTRY.get((envelope.type, envelope.version))
    if cls is None:
        raise MessageFormatError(f"unknown message {envelope.type} v{envelope.version}")
    return parse_payload(cls, envelope.payload, envelope.type)


def parse_payload(cls: type[MT], payload: Any, where: str) -> MT:
    """A message of ``cls`` from its JSON payload, every field checked against its type;
    ``where`` names the payload in errors (its type, or an item of a folded message)."""
    if not isinstance(payload, dict):
        raise MessageFormatError(f"{where}: the payload must be a JSON object")
    values: dict[str, Any] = {}
    for name, hint, is_tuple in _fields_of(cls):
        if name not in payload:
            raise MessageFormatError(f"{where} v{cls.VERSION}: missing {name}")
        value = payload[name]
        _check(value, hint, f"{where}.{name}")
        values[name] = tuple(value) if is_tuple else value
    return cls(**values)


_FIELDS: dict[type[Message], tuple[tuple[str, Any, bool], ...]] = {}


def _fields_of(cls: type[Message]) -> tuple[tuple[str, Any, bool], ...]:
    """Each field's name, type and whether it is a tuple; resolving the type hints
    of a class is slow, and every message of that type needs the same answer."""
    if cls not in _FIELDS:
        hints = get_type_hints(cls)
        _FIELDS[cls] = tuple(
            (f.name, hints[f.name], typing.get_origin(hints[f.name]) is tuple)
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        )
    return _FIELDS[cls]


# --- The messages ---------------------------------------------------------


@message("agency.registered", 1)
@dataclass(frozen=True)
class AgencyRegistered(Message):
    code: str
    name: str
    parent_code: str | None
    nonstandard_code: bool


@message("document.received", 1)
@dataclass(frozen=True)
class DocumentReceived(Message):
    document: str  # our id (uuid)
    document_id: str  # the edXML DocumentId
    sender: str
    recipients: tuple[str, ...]
    sha256: str
    size: int
    received_at: str
    metadata: dict[str, Any]


@message("delivery.created", 1)
@dataclass(frozen=True)
class DeliveryCreated(Message):
    delivery_id: str
    document: str
    sender: str
    recipient: str
    created_at: str


@message("deliveries.created", 1)
@dataclass(frozen=True)
class DeliveriesCreated(Message):
    """Every delivery routing made for one document, in one message (the sender's
    view of who the document went to). ``delivery_ids[i]`` goes to ``recipients[i]``.
    It replaces one delivery.created per recipient; ingest still reads those."""

    document: str
    sender: str
    delivery_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    created_at: str

    def __post_init__(self) -> None:
        if len(self.delivery_ids) != len(self.recipients):
            raise MessageFormatError("deliveries.created: one recipient per delivery id")


@message("delivery.dispatched", 1)
@dataclass(frozen=True)
class DeliveryDispatched(Message):
    """Published to lt.agency with the recipient's code: the recipient's copy."""

    delivery_id: str
    document: str
    document_id: str
    sender: str
    recipient: str
    sha256: str
    size: int
    subject: str
    dispatched_at: str


@message("delivery.arrived", 1)
@dataclass(frozen=True)
class DeliveryArrived(Message):
    """The recipient's connector took the delivery into its inbox (status 01)."""

    delivery_id: str
    recipient: str
    arrived_at: str


@message("delivery.status_changed", 1)
@dataclass(frozen=True)
class DeliveryStatusChanged(Message):
    delivery_id: str
    document: str
    recipient: str
    code: str  # the event reported
    status: str | None  # the delivery's status after it (16 restores the earlier one)
    seq: int
    at: str
    reported_by: str
    description: str
    staff: dict[str, Any]


@message("document.signed", 1)
@dataclass(frozen=True)
class DocumentSigned(Message):
    """A new, signed version of a document is stored (earlier versions stay)."""

    document: str
    version: int
    sha256: str
    size: int
    previous_sha256: str
    profile: str
    level: str
    field_name: str
    certificate_serial: str
    signer: str
    signed_at: str


@message("document.verified", 1)
@dataclass(frozen=True)
class DocumentVerified(Message):
    """The verdict on a document's signatures, checked when it arrived (or re-checked)."""

    document: str
    sha256: str
    verdict: str  # valid | invalid | indeterminate | unsigned | unreadable
    signature_count: int
    signers: tuple[str, ...]
    organization_signed: bool  # a valid signature by an organization certificate
    verified_at: str
    reasons: tuple[str, ...]


# --- Deadlines (routing's scheduler) and agency mailboxes -------------------


@message("agency.registered", 2)
@dataclass(frozen=True)
class AgencyRegisteredV2(AgencyRegistered):
    """v1 plus the agency's official mailbox (hòm thư công vụ). A v1 reader's handler
    accepts it as it is (a subclass); v1 stays parseable for older emitters."""

    email: str | None


@message("delivery.due_soon", 1)
@dataclass(frozen=True)
class DeliveryDueSoon(Message):
    """An open delivery entered its due-soon window (emitted once per delivery)."""

    delivery_id: str
    document: str
    document_id: str
    sender: str
    recipient: str
    subject: str
    status: str | None
    due_at: str
    noticed_at: str


@message("delivery.overdue", 1)
@dataclass(frozen=True)
class DeliveryOverdue(Message):
    """An open delivery passed its due time (emitted once per delivery); the sender
    is escalated to."""

    delivery_id: str
    document: str
    document_id: str
    sender: str
    recipient: str
    subject: str
    status: str | None
    due_at: str
    noticed_at: str


# --- Folded: several messages one transaction sends to one destination ---------


class Folded(Message, typing.Generic[MT]):
    """Messages of one type (``ITEM``) that one transaction sends to one destination,
    carried as one message (see ``add_folded_to_outbox``): under load a batch of
    deliveries costs one publish, one confirm and one consumer dedupe row, not one
    each. ``items`` holds the item messages' payloads, checked when parsed."""

    ITEM: ClassVar[type[Message]]
    items: tuple[dict[str, Any], ...]

    def __post_init__(self) -> None:
        if not self.items:
            raise MessageFormatError(f"{self.TYPE}: no items")
        parsed = tuple(
            parse_payload(self.ITEM, item, f"{self.TYPE}.items[{i}]")
            for i, item in enumerate(self.items)
        )
        object.__setattr__(self, "_messages", parsed)

    def messages(self) -> tuple[MT, ...]:
        return self._messages  # type: ignore[attr-defined]

    @classmethod
    def of(cls, msgs: typing.Sequence[Message]) -> Message:
        """The fold passed to ``add_folded_to_outbox``."""
        return cls(items=fold_items(msgs))  # type: ignore[call-arg]


def fold_items(msgs: typing.Sequence[Message]) -> tuple[dict[str, Any], ...]:
    """The items' payloads as they travel (tuples as lists), so that a folded message
    built here equals the one a consumer parses."""
    return tuple(
        {k: list(v) if isinstance(v, tuple) else v for k, v in payload_of(m).items()} for m in msgs
    )


def unfold(msgs: typing.Iterable[Message]) -> list[Message]:
    """Every message, with a folded one replaced by its items (for batch preparation)."""
    out: list[Message] = []
    for m in msgs:
        if isinstance(m, Folded):
            out.extend(m.messages())
        else:
            out.append(m)
    return out


@message("deliveries.dispatched", 1)
@dataclass(frozen=True)
class DeliveriesDispatched(Folded[DeliveryDispatched]):
    """The copies one routing transaction sent to one recipient agency (lt.agency)."""

    ITEM = DeliveryDispatched
    items: tuple[dict[str, Any], ...]


@message("deliveries.arrived", 1)
@dataclass(frozen=True)
class DeliveriesArrived(Folded[DeliveryArrived]):
    """The deliveries one connector transaction put in inboxes (status 01 each)."""

    ITEM = DeliveryArrived
    items: tuple[dict[str, Any], ...]


@message("delivery.statuses_changed", 1)
@dataclass(frozen=True)
class DeliveryStatusesChanged(Folded[DeliveryStatusChanged]):
    """The statuses one routing transaction recorded, in the order it recorded them."""

    ITEM = DeliveryStatusChanged
    items: tuple[dict[str, Any], ...]


@message("documents.routed", 1)
@dataclass(frozen=True)
class DocumentsRouted(Folded[DeliveriesCreated]):
    """The deliveries.created of every document one routing transaction routed."""

    ITEM = DeliveriesCreated
    items: tuple[dict[str, Any], ...]


@message("documents.verified", 1)
@dataclass(frozen=True)
class DocumentsVerified(Folded[DocumentVerified]):
    """The verdicts one signing transaction reached on arriving documents."""

    ITEM = DocumentVerified
    items: tuple[dict[str, Any], ...]

"""The machinery of versioned bus messages: frozen dataclasses ⇄ JSON envelopes
(the messages themselves are in ``services.common.bus.messages``).

Every message travels as ``{"id", "type", "version", "occurred_at", "payload"}``.
A reader knows exactly which (type, version) pairs it can parse; anything else
is a MessageFormatError and goes to lt.dead untouched.
"""

from __future__ import annotations

import dataclasses
import enum
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
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            hint(value)
        except ValueError as e:
            raise MessageFormatError(f"{where}: {value!r} is not a {hint.__name__}") from e


def _enum_of(hint: Any) -> type[enum.Enum] | None:
    """The enumeration a field holds (``Status`` or ``Status | None``), if any: it
    travels as its value and is read back as a member."""
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            if isinstance(option, type) and issubclass(option, enum.Enum):
                return option
    return None


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
        if is_tuple:
            value = tuple(value)
        elif value is not None and (kind := _enum_of(hint)) is not None:
            value = kind(value)
        values[name] = value
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


# --- Folded: several messages one transaction sends to one destination ---------


@dataclass(frozen=True)
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
            typing.cast(MT, parse_payload(self.ITEM, item, f"{self.TYPE}.items[{i}]"))
            for i, item in enumerate(self.items)
        )
        object.__setattr__(self, "_messages", parsed)

    def messages(self) -> tuple[MT, ...]:
        # Kept beside the fields, not as one: payload_of sends every field.
        return typing.cast("tuple[MT, ...]", self.__dict__["_messages"])

    @classmethod
    def of(cls, msgs: typing.Sequence[Message]) -> Message:
        """The fold passed to ``add_folded_to_outbox``."""
        return cls(items=fold_items(msgs))


def folded_types() -> list[type[Folded[Any]]]:
    """Every registered folded message type."""
    return [cls for cls in _REGISTRY.values() if issubclass(cls, Folded)]


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

"""services/common/bus/messages.py: versioned dataclasses <-> JSON envelopes."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime
from typing import Any

import pytest

from services.common.bus import envelope
from services.common.bus.envelope import (
    Envelope,
    Folded,
    Message,
    message,
    parse,
    read_envelope,
    wrap,
)
from services.common.bus.messages import (
    AgencyRegistered,
    AgencyRegisteredV2,
    DeliveriesArrived,
    DeliveriesCreated,
    DeliveriesDispatched,
    DeliveryArrived,
    DeliveryCreated,
    DeliveryDispatched,
    DeliveryDueSoon,
    DeliveryOverdue,
    DeliveryStatusChanged,
    DeliveryStatusesChanged,
    DocumentReceived,
    DocumentSigned,
    DocumentsRouted,
    DocumentsVerified,
    DocumentsVerifiedV2,
    DocumentVerified,
    DocumentVerifiedV2,
)
from services.common.contract import Status, Verdict
from services.common.errors import MessageFormatError

SENDER = "000.00.00.H41"
RECIPIENT = "000.00.00.G22"

SAMPLES: list[Message] = [
    AgencyRegistered(
        code=SENDER, name="UBND tỉnh Quảng Ninh", parent_code=None, nonstandard_code=False
    ),
    AgencyRegistered(code="H41.12", name="Sở Nội vụ", parent_code=SENDER, nonstandard_code=True),
    DocumentReceived(
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2024/03/15,12/UBND-VP",
        sender=SENDER,
        recipients=(RECIPIENT, "001.00.99.H44"),
        sha256="ab" * 32,
        size=12609,
        received_at="2024-03-15T08:00:00+00:00",
        subject="Về việc triển khai",
        priority=1,
        due_date=None,
        paper=0,
        business_doc_type=0,
        supersedes=None,
        business_reason="",
        metadata={
            "Subject": "Về việc triển khai",
            "To": [{"OrganId": RECIPIENT}],
            "OtherInfo": {"Priority": 1},
            "DueDate": None,
        },
    ),
    DeliveryCreated(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        sender=SENDER,
        recipient=RECIPIENT,
        created_at="2024-03-15T08:00:01+00:00",
    ),
    DeliveriesCreated(
        document=str(uuid.uuid4()),
        sender=SENDER,
        delivery_ids=(str(uuid.uuid4()), str(uuid.uuid4())),
        recipients=(RECIPIENT, "001.00.99.H44"),
        created_at="2024-03-15T08:00:01+00:00",
    ),
    DeliveryDispatched(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2024/03/15,12/UBND-VP",
        sender=SENDER,
        recipient=RECIPIENT,
        sha256="cd" * 32,
        size=1,
        subject="Trích yếu",
        dispatched_at="2024-03-15T08:00:02+00:00",
    ),
    DeliveryArrived(
        delivery_id=str(uuid.uuid4()), recipient=RECIPIENT, arrived_at="2024-03-15T08:00:03+00:00"
    ),
    DeliveryStatusChanged(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        recipient=RECIPIENT,
        code=Status.REGISTERED,
        status=Status.REGISTERED,
        seq=2,
        at="2024-03-15T09:00:00+00:00",
        reported_by=RECIPIENT,
        description="Đã vào sổ",
        staff={"Staff": "Nguyễn Văn A", "Department": "Văn thư"},
    ),
    DeliveryStatusChanged(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        recipient=RECIPIENT,
        code=Status.TAKE_BACK_ACCEPTED,
        status=None,
        seq=7,
        at="2024-03-16T09:00:00+00:00",
        reported_by=RECIPIENT,
        description="",
        staff={},
    ),
    DocumentSigned(
        document=str(uuid.uuid4()),
        version=2,
        sha256="c" * 64,
        size=2048,
        previous_sha256="b" * 64,
        profile="personal",
        level="B-LT",
        field_name="personal-1",
        certificate_serial="7f3a",
        signer="CN=Nguyễn Văn An,O=UBND tỉnh Quảng Ninh",
        signed_at="2024-03-15T09:00:00+07:00",
    ),
    DocumentVerified(
        document=str(uuid.uuid4()),
        sha256="d" * 64,
        verdict=Verdict.VALID,
        signature_count=2,
        signers=("CN=Nguyễn Văn An", "CN=UBND tỉnh Quảng Ninh"),
        organization_signed=True,
        verified_at="2024-03-15T09:00:01+00:00",
        reasons=(),
    ),
    DocumentVerifiedV2(
        document=str(uuid.uuid4()),
        sha256="e" * 64,
        verdict=Verdict.UNSIGNED,
        signature_count=0,
        signers=(),
        organization_signed=False,
        verified_at="2024-03-15T09:00:02+00:00",
        reasons=(),
        scanned=True,
    ),
    AgencyRegisteredV2(
        code=RECIPIENT,
        name="Văn phòng Chính phủ",
        parent_code=None,
        nonstandard_code=False,
        email="vanthu@chinhphu.vn",
    ),
    DeliveryDueSoon(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2024/03/15,12/UBND-VP",
        sender=SENDER,
        recipient=RECIPIENT,
        subject="Về việc triển khai",
        status=Status.REGISTERED,
        due_at="2024-03-16T16:59:59+00:00",
        noticed_at="2024-03-16T10:59:59+00:00",
    ),
    DeliveryOverdue(
        delivery_id=str(uuid.uuid4()),
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2024/03/15,12/UBND-VP",
        sender=SENDER,
        recipient=RECIPIENT,
        subject="Về việc triển khai",
        status=None,
        due_at="2024-03-16T16:59:59+00:00",
        noticed_at="2024-03-16T17:00:30+00:00",
    ),
]

# Folded messages carry the payloads of several item messages.
SAMPLES += [
    DeliveriesDispatched.of([s for s in SAMPLES if isinstance(s, DeliveryDispatched)] * 2),
    DeliveriesArrived.of(
        [s for s in SAMPLES if isinstance(s, DeliveryArrived)]
        + [DeliveryArrived(delivery_id="d2", recipient=RECIPIENT, arrived_at="2024-03-15T08:01")]
    ),
    DeliveryStatusesChanged.of([s for s in SAMPLES if isinstance(s, DeliveryStatusChanged)]),
    DocumentsRouted.of([s for s in SAMPLES if isinstance(s, DeliveriesCreated)] * 2),
    DocumentsVerified.of([s for s in SAMPLES if type(s) is DocumentVerified] * 2),
    DocumentsVerifiedV2.of([s for s in SAMPLES if isinstance(s, DocumentVerifiedV2)] * 2),
]


def _ids(sample: Message) -> str:
    return f"{sample.TYPE}-v{sample.VERSION}"


def _over_the_wire(envelope: Envelope) -> Any:
    """What a consumer sees: the envelope after JSON encoding and decoding."""
    return json.loads(json.dumps(envelope.to_json(), ensure_ascii=False))


def _wire_body(sample: Message) -> dict[str, Any]:
    body = _over_the_wire(wrap(sample))
    assert isinstance(body, dict)
    return body


def test_every_registered_message_type_has_a_sample() -> None:
    assert {(s.TYPE, s.VERSION) for s in SAMPLES} == set(envelope._REGISTRY)


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids)
def test_round_trip_through_json(sample: Message) -> None:
    envelope = wrap(sample)
    received = read_envelope(_over_the_wire(envelope))

    assert received.id == envelope.id
    assert received.type == sample.TYPE
    assert received.version == sample.VERSION
    assert received.occurred_at == envelope.occurred_at
    parsed = parse(received)
    assert type(parsed) is type(sample)
    assert parsed == sample


def test_wrap_fills_the_envelope() -> None:
    sample = SAMPLES[0]
    envelope = wrap(sample)

    assert set(envelope.to_json()) == {"id", "type", "version", "occurred_at", "payload"}
    assert uuid.UUID(envelope.id).version == 4
    assert envelope.type == "agency.registered"
    assert envelope.version == 1
    assert datetime.fromisoformat(envelope.occurred_at).utcoffset() is not None
    assert envelope.payload == dataclasses.asdict(sample)  # type: ignore[call-overload]
    assert wrap(sample).id != envelope.id


def test_wrap_keeps_a_given_message_id() -> None:
    assert wrap(SAMPLES[0], message_id="fixed-id").id == "fixed-id"


def test_tuples_come_back_as_tuples() -> None:
    sample = next(s for s in SAMPLES if isinstance(s, DocumentReceived))
    parsed = parse(read_envelope(_wire_body(sample)))
    assert isinstance(parsed, DocumentReceived)
    assert parsed.recipients == sample.recipients
    assert isinstance(parsed.recipients, tuple)


def test_unicode_survives() -> None:
    sample = SAMPLES[0]
    parsed = parse(read_envelope(_wire_body(sample)))
    assert isinstance(parsed, AgencyRegistered)
    assert parsed.name == "UBND tỉnh Quảng Ninh"


def test_defining_a_message_twice_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Impostor(Message):
        code: str

    with pytest.raises(RuntimeError, match="defined twice"):
        message("agency.registered", 1)(Impostor)
    assert envelope._REGISTRY[("agency.registered", 1)] is AgencyRegistered


# --- envelopes that are not envelopes ---------------------------------------


@pytest.mark.parametrize("body", [None, [], "text", 42, 1.5, True, [{"id": "x"}]])
def test_non_object_body_is_refused(body: Any) -> None:
    with pytest.raises(MessageFormatError):
        read_envelope(body)


@pytest.mark.parametrize("missing", ["id", "type", "version", "occurred_at", "payload"])
def test_envelope_without_a_key_is_refused(missing: str) -> None:
    body = _wire_body(SAMPLES[0])
    del body[missing]
    with pytest.raises(MessageFormatError):
        read_envelope(body)


@pytest.mark.parametrize("version", ["one", None, "", [1]])
def test_envelope_with_a_bad_version_is_refused(version: Any) -> None:
    body = _wire_body(SAMPLES[0])
    body["version"] = version
    with pytest.raises(MessageFormatError):
        read_envelope(body)


@pytest.mark.parametrize(
    ("key", "value"),
    [("id", None), ("id", ""), ("version", True), ("version", 1.9)],
    ids=["id-null", "id-empty", "version-bool", "version-float"],
)
def test_envelope_fields_must_have_their_types(key: str, value: Any) -> None:
    """The id is what consumers deduplicate on, and (type, version) is parsed exactly.

    ``str(None)`` turns every id-less message into the id "None", so a consumer
    applies the first and silently drops every later one as "already applied";
    ``int(True)`` and ``int(1.9)`` read as version 1. The payload's own fields are
    held to this (bool is not an int), the envelope must be too.
    """
    body = _wire_body(SAMPLES[0])
    body[key] = value
    with pytest.raises(MessageFormatError):
        read_envelope(body)


@pytest.mark.parametrize("payload", [None, [], "payload", 3, [["code", "x"]]])
def test_non_object_payload_is_refused(payload: Any) -> None:
    body = _wire_body(SAMPLES[0])
    body["payload"] = payload
    with pytest.raises(MessageFormatError, match="payload"):
        read_envelope(body)


# --- unknown types and versions ---------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "version"),
    [("document.deleted", 1), ("agency.registered", 3), ("delivery.arrived", 0), ("", 1)],
)
def test_unknown_type_or_version_is_refused(type_name: str, version: int) -> None:
    body = _wire_body(SAMPLES[0])
    body["type"], body["version"] = type_name, version
    envelope = read_envelope(body)
    with pytest.raises(MessageFormatError, match="unknown message"):
        parse(envelope)


# --- payloads of the wrong shape --------------------------------------------

MISSING_FIELDS = [
    (sample, f.name)
    for sample in {type(s): s for s in SAMPLES}.values()
    for f in dataclasses.fields(sample)  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("sample", "field"), MISSING_FIELDS, ids=[f"{s.TYPE}.{f}" for s, f in MISSING_FIELDS]
)
def test_every_missing_field_is_refused(sample: Message, field: str) -> None:
    body = _wire_body(sample)
    del body["payload"][field]
    with pytest.raises(MessageFormatError, match=f"missing {field}"):
        parse(read_envelope(body))


def _sample(cls: type[Message]) -> Message:
    return next(s for s in SAMPLES if type(s) is cls)


WRONG_TYPES: list[tuple[type[Message], str, Any]] = [
    # int given as a string, as a bool, as a float
    (DocumentReceived, "size", "12609"),
    (DocumentReceived, "size", True),
    (DocumentReceived, "size", 12.5),
    (DeliveryStatusChanged, "seq", "3"),
    (DeliveryStatusChanged, "seq", False),
    (DeliveryDispatched, "size", None),
    # str given as something else
    (DocumentReceived, "sender", 42),
    (DeliveryArrived, "recipient", None),
    (DeliveryArrived, "arrived_at", ["2024-01-01"]),
    (DeliveryCreated, "delivery_id", {"id": "x"}),
    (DeliveriesCreated, "delivery_ids", "one-id"),
    # bool given as an int or a string
    (AgencyRegistered, "nonstandard_code", 1),
    (AgencyRegistered, "nonstandard_code", "false"),
    # optional str given as something else
    (AgencyRegistered, "parent_code", 5),
    (DeliveryStatusChanged, "status", 3),
    # tuple[str, ...] given as a string, or holding a non-string
    (DocumentReceived, "recipients", RECIPIENT),
    (DocumentReceived, "recipients", [RECIPIENT, 7]),
    (DocumentReceived, "recipients", {"0": RECIPIENT}),
    # dict given as a list or a string
    (DocumentReceived, "metadata", []),
    (DocumentReceived, "metadata", "{}"),
    (DeliveryStatusChanged, "staff", None),
]


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    WRONG_TYPES,
    ids=[f"{c.TYPE}.{f}={v!r}" for c, f, v in WRONG_TYPES],
)
def test_a_field_of_the_wrong_type_is_refused(cls: type[Message], field: str, value: Any) -> None:
    body = _wire_body(_sample(cls))
    body["payload"][field] = value
    envelope = read_envelope(body)
    with pytest.raises(MessageFormatError, match=field):
        parse(envelope)


def test_optional_fields_accept_null_and_a_value() -> None:
    body = _wire_body(_sample(AgencyRegistered))
    body["payload"]["parent_code"] = None
    parsed = parse(read_envelope(body))
    assert isinstance(parsed, AgencyRegistered)
    assert parsed.parent_code is None
    body["payload"]["parent_code"] = SENDER
    parsed = parse(read_envelope(body))
    assert isinstance(parsed, AgencyRegistered)
    assert parsed.parent_code == SENDER


def test_deliveries_created_needs_one_recipient_per_delivery() -> None:
    body = json.loads(
        json.dumps(
            wrap(
                DeliveriesCreated(
                    document="d",
                    sender=SENDER,
                    delivery_ids=("a",),
                    recipients=(RECIPIENT,),
                    created_at="t",
                )
            ).to_json()
        )
    )
    body["payload"]["recipients"] = [RECIPIENT, "001.00.99.H44"]
    with pytest.raises(MessageFormatError, match="one recipient per delivery id"):
        parse(read_envelope(body))


PLAIN_FIELD_TYPES = {
    "str",
    "int",
    "bool",
    "bool | None",
    "str | None",
    "tuple[str, ...]",
    "dict[str, Any]",
    "Verdict",  # StrEnums travel as their string
    "Status",
    "Status | None",
    "tuple[dict[str, Any], ...]",  # a folded message's items: payloads, plain values too
}


REGISTERED: list[type[Message]] = sorted(envelope._REGISTRY.values(), key=lambda c: c.TYPE)


@pytest.mark.parametrize("cls", REGISTERED)
def test_message_fields_are_plain_values(cls: type[Message]) -> None:
    """The payload is a shallow copy of the fields: that is only right while no field
    holds a nested dataclass."""
    assert {str(f.type) for f in dataclasses.fields(cls)} <= PLAIN_FIELD_TYPES  # type: ignore[arg-type]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s.TYPE}-v{s.VERSION}")
def test_the_payload_is_what_asdict_gives(sample: Message) -> None:
    envelope = wrap(sample)
    assert envelope.payload == dataclasses.asdict(sample)  # type: ignore[call-overload]
    assert envelope.to_json() == dataclasses.asdict(envelope)


# --- folded messages ----------------------------------------------------------


@pytest.mark.parametrize(
    "sample", [s for s in SAMPLES if isinstance(s, Folded)], ids=lambda s: s.TYPE
)
def test_a_folded_message_gives_back_its_items_in_order(sample: Folded[Message]) -> None:
    parsed = parse(read_envelope(_wire_body(sample)))
    assert isinstance(parsed, Folded)
    items = parsed.messages()
    assert len(items) == len(sample.items) >= 2
    assert all(type(item) is sample.ITEM for item in items)
    assert envelope.fold_items(items) == sample.items
    assert items == sample.messages()


def test_a_folded_message_checks_each_item() -> None:
    body = _wire_body(_sample(DeliveryStatusesChanged))
    body["payload"]["items"][1]["seq"] = "7"
    with pytest.raises(MessageFormatError, match=r"items\[1\]\.seq"):
        parse(read_envelope(body))
    del body["payload"]["items"][1]["seq"]
    with pytest.raises(MessageFormatError, match="missing seq"):
        parse(read_envelope(body))


@pytest.mark.parametrize("items", [[], "x", [None], [[]]], ids=["empty", "text", "null", "list"])
def test_a_folded_message_needs_item_objects(items: Any) -> None:
    body = _wire_body(_sample(DeliveriesArrived))
    body["payload"]["items"] = items
    with pytest.raises(MessageFormatError):
        parse(read_envelope(body))


def test_unfold_puts_items_in_place_of_the_folded_message() -> None:
    arrived = _sample(DeliveriesArrived)
    single = _sample(DocumentReceived)
    assert isinstance(arrived, DeliveriesArrived)
    assert envelope.unfold([single, arrived, single]) == [
        single,
        *arrived.messages(),
        single,
    ]


def test_a_verdict_outside_the_enum_is_refused() -> None:
    verified = next(s for s in SAMPLES if isinstance(s, DocumentVerified))
    envelope = read_envelope(json.loads(json.dumps(wrap(verified).to_json())))
    assert parse(envelope) == verified
    assert isinstance(parse(envelope).verdict, Verdict)  # type: ignore[attr-defined]
    bad = Envelope(**{**envelope.to_json(), "payload": {**envelope.payload, "verdict": "maybe"}})
    with pytest.raises(MessageFormatError, match="not a Verdict"):
        parse(bad)

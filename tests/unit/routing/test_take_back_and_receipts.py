"""Recall, update and replace through the lifecycle; the timeline; signed receipts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.common.bus.envelope import wrap
from services.common.bus.messages import DeliveryArrived, DocumentReceived
from services.common.db import Database
from services.common.errors import Forbidden, ValidationFailed
from services.common.internal_api import StatusReport, TakeBackRequest
from services.routing import consumers, take_back, views
from services.routing.audit import verify_chain
from services.routing.models import Delivery
from services.routing.receipts import load_or_create, receipt_claims, verify_receipt
from services.routing.statuses import report_status

SENDER, A, B = "000.00.00.H41", "000.00.01.H41", "000.00.02.H41"


@pytest.fixture
def db(routing_sqlite: Database) -> Database:
    return routing_sqlite


def _receive(
    db: Database, document_id: str, business: dict[str, Any] | None = None, **typed: Any
) -> str:
    """A document.received; ``typed`` overrides its typed fields (an update's
    ``business_doc_type``, ``supersedes`` and ``business_reason``)."""
    document = str(uuid.uuid4())
    meta: dict[str, Any] = {
        "Subject": "Thử",
        "Paper": 0,
        "OtherInfo": {"Priority": 1},
        "DueDate": "2026/12/01",
    }
    if business:
        meta["Bussiness"] = business
    fields: dict[str, Any] = {
        "subject": "Thử",
        "priority": 1,
        "due_date": "2026-12-01",
        "paper": 0,
        "business_doc_type": 0,
        "supersedes": None,
        "business_reason": "",
        **typed,
    }
    msg = DocumentReceived(
        document=document,
        document_id=document_id,
        sender=SENDER,
        recipients=(A, B),
        sha256="ab" * 32,
        size=10,
        received_at=datetime.now(UTC).isoformat(),
        metadata=meta,
        **fields,
    )
    with db.unit_of_work() as session:
        consumers.on_document_received(session, msg, wrap(msg))
    return document


def _deliveries(db: Database, document: str) -> dict[str, Delivery]:
    with db.reading() as session:
        rows = session.query(Delivery).filter(Delivery.document == document).all()
        return {d.recipient_code: d for d in rows}


def _arrive_and_register(db: Database, document: str) -> None:
    for code, delivery in _deliveries(db, document).items():
        msg = DeliveryArrived(
            delivery_id=delivery.id, recipient=code, arrived_at=datetime.now(UTC).isoformat()
        )
        with db.unit_of_work() as session:
            consumers.on_delivery_arrived(session, msg, wrap(msg))
        _report(db, delivery.id, {"code": "03", "reported_by": code})


def _report(db: Database, delivery_id: str, body: dict[str, Any]) -> None:
    report_status(db, delivery_id, StatusReport.from_json(body))


def _take_back(db: Database, document: str, body: dict[str, Any]) -> take_back.TakeBackAnswer:
    return take_back.request_take_back(db, document, TakeBackRequest.from_json(body))


def test_a_recall_asks_every_recipient_and_each_answers(db: Database) -> None:
    document = _receive(db, f"{SENDER},2026/11/21,1/UBND")
    _arrive_and_register(db, document)
    with pytest.raises(Forbidden):
        _take_back(db, document, {"kind": "recall", "requested_by": A})
    result = _take_back(
        db, document, {"kind": "recall", "requested_by": SENDER, "reason": "Ban hành nhầm"}
    )
    assert [d["requested"] for d in result["deliveries"]] == [True, True]
    rows = _deliveries(db, document)
    assert {d.status for d in rows.values()} == {"13"}
    _report(db, rows[A].id, {"code": "15", "reported_by": A})
    _report(db, rows[B].id, {"code": "16", "reported_by": B})
    rows = _deliveries(db, document)
    assert rows[A].status == "15" and rows[B].status == "03"  # 16 restores the status
    assert rows[A].take_back_kind == "recall"
    events = views.timeline(db, document)["events"]
    assert [e["code"] for e in events if e["OrganId"] == A] == ["01", "03", "13", "15"]
    assert [e["code"] for e in events if e["OrganId"] == B] == ["01", "03", "13", "16"]
    assert verify_chain(db).ok


def test_an_update_links_the_new_version_and_asks_to_take_the_old_back(db: Database) -> None:
    old_id = f"{SENDER},2026/11/21,2/UBND"
    old = _receive(db, old_id)
    _arrive_and_register(db, old)
    new = _receive(
        db,
        f"{SENDER},2026/11/22,3/UBND",
        {"BussinessDocType": 2, "DocumentId": old_id, "BussinessDocReason": "Sửa"},
        business_doc_type=2,
        supersedes=old,  # ingest resolved the DocumentId to our id
        business_reason="Sửa",
    )
    rows = _deliveries(db, old)
    assert {d.status for d in rows.values()} == {"13"}
    assert {d.replaced_by for d in rows.values()} == {new}
    assert {d.take_back_kind for d in rows.values()} == {"update"}
    assert views.timeline(db, new)["supersedes"] == old


def test_a_take_back_of_an_undelivered_copy_is_reported_not_applied(db: Database) -> None:
    document = _receive(db, f"{SENDER},2026/11/21,4/UBND")
    result = _take_back(db, document, {"kind": "recall", "requested_by": SENDER})
    assert [d["requested"] for d in result["deliveries"]] == [False, False]
    assert "cannot be asked" in result["deliveries"][0]["reason"]


def test_a_receipt_verifies_offline_and_detects_alteration(db: Database, tmp_path: Path) -> None:
    document = _receive(db, f"{SENDER},2026/11/21,5/UBND")
    _arrive_and_register(db, document)
    delivery = _deliveries(db, document)[A]
    key = load_or_create(tmp_path / "receipt.pem")
    token = key.sign(
        receipt_claims(views.delivery_view(db, delivery.id), views.exchange_view(db, document))
    )
    claims = verify_receipt(token, key.public_pem().encode())
    assert claims["recipient"] == A and [e["code"] for e in claims["events"]] == ["01", "03"]
    header, body, signature = token.split(".")
    forged = body.replace(body[5], "A" if body[5] != "A" else "B", 1)
    with pytest.raises(ValidationFailed):
        verify_receipt(f"{header}.{forged}.{signature}", key.public_pem().encode())
    other = load_or_create(tmp_path / "other.pem")
    with pytest.raises(ValidationFailed):
        verify_receipt(token, other.public_pem().encode())
    assert load_or_create(tmp_path / "receipt.pem").key_id == key.key_id  # kept, not remade

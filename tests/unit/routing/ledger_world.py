"""A small world of agencies and exchanges for the ledger's tests, driven through
routing's real handlers (document.received, document.verified, delivery.arrived,
status reports, take-backs) with a clock the test sets."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.common.bus.envelope import wrap
from services.common.bus.messages import (
    AgencyRegistered,
    DeliveryArrived,
    DocumentReceived,
    DocumentVerified,
    DocumentVerifiedV2,
)
from services.common.contract import Status, Verdict
from services.common.db import Database
from services.common.internal_api import StatusReport, TakeBackRequest
from services.routing import consumers, statuses
from services.routing.models import Delivery
from services.routing.take_back import request_take_back

# Two provinces side by side; under province A its department and a commune.
MINISTRY = "000.00.00.G22"
PROV_A = "000.00.00.H41"
DEPT_A = "000.00.12.H41"
COMMUNE_A = "001.01.00.H41"
PROV_B = "000.00.00.H44"
COMMUNE_B = "001.01.00.H44"
AGENCIES = (
    (MINISTRY, "Văn phòng Chính phủ", None),
    (PROV_A, "UBND tỉnh Khánh Hòa", None),
    (DEPT_A, "Sở Nội vụ tỉnh Khánh Hòa", PROV_A),
    (COMMUNE_A, "UBND phường Nha Trang", PROV_A),
    (PROV_B, "UBND tỉnh Lâm Đồng", None),
    (COMMUNE_B, "UBND phường Đà Lạt", PROV_B),
)


def vn(text: str) -> datetime:
    """A Vietnam wall-clock time ("2026-04-02 09:00") as an aware UTC instant."""
    local = datetime.fromisoformat(text).replace(tzinfo=None)
    return (local - timedelta(hours=7)).replace(tzinfo=UTC)


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: vn("2026-01-01 08:00"))

    def __call__(self) -> datetime:
        return self.at


@dataclass
class World:
    db: Database
    clock: Clock
    deliveries: dict[tuple[str, str], str] = field(default_factory=dict)  # (doc, OrganId)

    def register_agencies(self) -> None:
        with self.db.unit_of_work() as session:
            for code, name, parent in AGENCIES:
                msg = AgencyRegistered(
                    code=code, name=name, parent_code=parent, nonstandard_code=False
                )
                consumers.on_agency_registered(session, msg, wrap(msg))

    def send(
        self,
        name: str,
        sender: str,
        recipients: Iterable[str],
        *,
        at: datetime,
        paper: int = 0,
        due: date | None = None,
        supersedes: str | None = None,
    ) -> str:
        """An exchange sent at ``at``; its id is ``name`` (readable in failures)."""
        self.clock.at = at
        recipients = tuple(recipients)
        msg = DocumentReceived(
            document=name,
            document_id=f"{sender},{at:%Y/%m/%d},{uuid.uuid4().hex[:4]}/{name}",
            sender=sender,
            recipients=recipients,
            sha256=uuid.uuid4().hex * 2,
            size=1000,
            received_at=at.isoformat(),
            subject=f"Văn bản {name}",
            priority=0,
            due_date=due.isoformat() if due else None,
            paper=paper,
            business_doc_type=3 if supersedes else 0,
            supersedes=supersedes,
            business_reason="",
            metadata={"Subject": f"Văn bản {name}"},
        )
        with self.db.unit_of_work() as session:
            consumers.on_document_received(session, msg, wrap(msg))
        with self.db.reading() as session:
            for delivery_id, recipient in session.execute(
                sa.select(Delivery.id, Delivery.recipient_code).where(Delivery.document == name)
            ):
                self.deliveries[(name, recipient)] = delivery_id
        return name

    def verdict(self, document: str, *, signed: bool, scanned: bool | None = False) -> None:
        msg = DocumentVerified(
            document=document,
            sha256="00" * 32,
            verdict=Verdict.VALID if signed else Verdict.UNSIGNED,
            signature_count=1 if signed else 0,
            signers=("CN=Cơ quan",) if signed else (),
            organization_signed=signed,
            verified_at=self.clock.at.isoformat(),
            reasons=(),
        )
        if scanned is not None:  # v2 says whether it is a scan; v1 (None) does not
            fields: dict[str, Any] = dict(vars(msg))
            msg = DocumentVerifiedV2(**fields, scanned=scanned)
        with self.db.unit_of_work() as session:
            consumers.on_document_verified(session, msg, wrap(msg))

    def arrive(self, document: str, recipient: str, at: datetime) -> None:
        msg = DeliveryArrived(
            delivery_id=self.deliveries[(document, recipient)],
            recipient=recipient,
            arrived_at=at.isoformat(),
        )
        with self.db.unit_of_work() as session:
            consumers.on_delivery_arrived(session, msg, wrap(msg))

    def report(self, document: str, recipient: str, code: Status, at: datetime) -> None:
        self.clock.at = at
        statuses.report_status(
            self.db,
            self.deliveries[(document, recipient)],
            StatusReport(code, reported_by=recipient),
        )

    def take_back(self, document: str, sender: str, at: datetime) -> None:
        self.clock.at = at
        request_take_back(self.db, document, TakeBackRequest(requested_by=sender))


@pytest.fixture
def world(routing_sqlite: Database, monkeypatch: pytest.MonkeyPatch) -> World:
    clock = Clock()
    monkeypatch.setattr(statuses, "now", clock)
    w = World(routing_sqlite, clock)
    w.register_agencies()
    return w


def build_scenarios(w: World) -> None:
    """The hand-computed scenarios (see test_ledger_scenarios for the figures)."""
    five_min, hour = timedelta(minutes=5), timedelta(hours=1)

    def delivered(doc: str, recipient: str, sent: datetime, registered: timedelta | None) -> None:
        w.arrive(doc, recipient, sent + five_min)
        if registered is not None:
            w.report(doc, recipient, Status.REGISTERED, sent + five_min + registered)

    # E1: everything right; due 20/4: the commune completes on time, the province late.
    sent = vn("2026-04-02 09:00")
    w.send("E1", DEPT_A, (COMMUNE_A, PROV_A), at=sent, due=date(2026, 4, 20))
    w.verdict("E1", signed=True)
    delivered("E1", COMMUNE_A, sent, hour)
    delivered("E1", PROV_A, sent, hour)
    w.report("E1", COMMUNE_A, Status.COMPLETED, vn("2026-04-15 10:00"))
    w.report("E1", PROV_A, Status.COMPLETED, vn("2026-04-25 10:00"))
    # E2: not signed by the organization.
    sent = vn("2026-04-03 09:00")
    w.send("E2", DEPT_A, (COMMUNE_A,), at=sent)
    w.verdict("E2", signed=False)
    delivered("E2", COMMUNE_A, sent, hour)
    # E3: a scan (signed); its verdict arrives before routing has the exchange; it
    # takes two days to be registered.
    sent = vn("2026-04-10 09:00")
    w.verdict("E3", signed=True, scanned=True)
    w.send("E3", COMMUNE_A, (PROV_A,), at=sent)
    delivered("E3", PROV_A, sent, timedelta(days=2))
    # E4: a paper copy travels too.
    sent = vn("2026-05-04 09:00")
    w.send("E4", PROV_A, (DEPT_A,), at=sent, paper=1)
    w.verdict("E4", signed=True)
    delivered("E4", DEPT_A, sent, hour)
    # E5: the commune never registers it; due 10/5: the department completes on time,
    # the commune never does (overdue).
    sent = vn("2026-05-06 09:00")
    w.send("E5", PROV_A, (DEPT_A, COMMUNE_A), at=sent, due=date(2026, 5, 10))
    w.verdict("E5", signed=True)
    delivered("E5", DEPT_A, sent, hour)
    delivered("E5", COMMUNE_A, sent, None)
    w.report("E5", DEPT_A, Status.COMPLETED, vn("2026-05-08 16:00"))
    # E6: registered, then taken back (recalled; the commune agrees).
    sent = vn("2026-05-07 09:00")
    w.send("E6", PROV_A, (COMMUNE_A,), at=sent)
    w.verdict("E6", signed=True)
    delivered("E6", COMMUNE_A, sent, hour)
    w.take_back("E6", PROV_A, vn("2026-05-08 09:00"))
    w.report("E6", COMMUNE_A, Status.TAKE_BACK_ACCEPTED, vn("2026-05-08 10:00"))
    # E7 and E8: one second apart across Vietnam midnight, 31/3 → 1/4 (17:00 UTC).
    for name, at in (("E7", vn("2026-03-31 23:59:59")), ("E8", vn("2026-04-01 00:00:00"))):
        w.send(name, DEPT_A, (PROV_A,), at=at)
        w.verdict(name, signed=True)
        delivered(name, PROV_A, at, hour)
    # E9: the sibling province's own exchange, fully electronic.
    sent = vn("2026-04-02 09:00")
    w.send("E9", PROV_B, (COMMUNE_B,), at=sent)
    w.verdict("E9", signed=True)
    delivered("E9", COMMUNE_B, sent, hour)
    # E10: registered, but signing's verdict never came.
    sent = vn("2026-06-01 09:00")
    w.send("E10", COMMUNE_A, (DEPT_A,), at=sent)
    delivered("E10", DEPT_A, sent, hour)

"""The deadline scanner on SQLite with a fixed ``now``: each notice once, done deliveries
never, the outbox, audit and email rows it writes; the agency mailbox mirror; the
overdue listing and its internal endpoint; the wiring in create_app."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.common.bus.envelope import wrap
from services.common.bus.messages import AgencyRegistered, AgencyRegisteredV2, DocumentReceived
from services.common.db import Database
from services.common.wiring import context_of, migrate, runtime_of
from services.routing import consumers
from services.routing.app import create_app
from services.routing.audit import verify_chain
from services.routing.context import RoutingContext
from services.routing.deadlines.api import overdue_for
from services.routing.deadlines.scanner import DeadlineScanner, ScanResult, scan_once
from services.routing.models import BUS, Agency, AuditRecord, Delivery, Exchange, Notification
from services.routing.settings import RoutingSettings

SENDER, RECIPIENT, OTHER = "000.00.00.H41", "000.00.01.H41", "000.00.02.H41"
SENDER_MAIL, RECIPIENT_MAIL = "vanphong@nghean.gov.vn", "vanthu@snv.nghean.gov.vn"
T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=8)
DUE_SOON = T0 + timedelta(hours=6)


# --- helpers (the PostgreSQL tests use them too) -----------------------------


def add_agencies(db: Database, *, with_mail: bool = True) -> None:
    with db.unit_of_work() as session:
        for code, name, mail in (
            (SENDER, "UBND tỉnh Nghệ An", SENDER_MAIL),
            (RECIPIENT, "Sở Nội vụ tỉnh Nghệ An", RECIPIENT_MAIL),
            (OTHER, "Sở Tài chính tỉnh Nghệ An", None),
        ):
            session.add(
                Agency(
                    code=code,
                    name=name,
                    parent_code=None,
                    nonstandard_code=False,
                    email=mail if with_mail else None,
                )
            )


def add_delivery(
    db: Database,
    *,
    due_at: datetime | None = DUE,
    due_soon_at: datetime | None = DUE_SOON,
    status: str | None = None,
    recipient: str = RECIPIENT,
    number: int = 1,
) -> str:
    document, delivery_id = str(uuid.uuid4()), str(uuid.uuid4())
    with db.unit_of_work() as session:
        session.add(
            Exchange(
                document=document,
                document_id=f"{SENDER},2026/11/21,{number}/UBND-VP",
                sender_code=SENDER,
                sha256="ab" * 32,
                size=10,
                subject=f"Về việc triển khai văn bản điện tử số {number}",
                paper=0,
                priority=3,
                due_date=None,
                doc_metadata={},
                received_at=T0,
                created_at=T0,
            )
        )
        session.flush()
        session.add(
            Delivery(
                id=delivery_id,
                document=document,
                recipient_code=recipient,
                status=status,
                seq=0,
                dispatched_at=T0,
                due_at=due_at,
                due_soon_at=due_soon_at,
            )
        )
    return delivery_id


def outbox_events(db: Database, kind: str | None = None) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.execute(sa.select(BUS.outbox).order_by(BUS.outbox.c.id)).all()
    bodies = [dict(r.body, routing_key=r.routing_key, exchange=r.exchange) for r in rows]
    return [b for b in bodies if kind is None or b["type"] == kind]


def notifications(db: Database) -> list[Notification]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Notification).order_by(Notification.id)).all())


def audit_kinds(db: Database) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(sa.select(AuditRecord.kind).order_by(AuditRecord.seq)))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    database = Database(url)
    add_agencies(database)
    yield database
    database.dispose()


# --- the scan ------------------------------------------------------------------


def test_nothing_is_owed_before_the_due_soon_time(db: Database) -> None:
    add_delivery(db)
    assert scan_once(db, DUE_SOON - timedelta(seconds=1)) == ScanResult()
    assert outbox_events(db) == [] and notifications(db) == []


def test_due_soon_is_given_once_with_its_event_audit_and_email(db: Database) -> None:
    delivery_id = add_delivery(db)
    assert scan_once(db, DUE_SOON) == ScanResult(due_soon=1, emails=1)
    assert scan_once(db, DUE_SOON + timedelta(minutes=30)) == ScanResult()

    (event,) = outbox_events(db)
    assert (event["exchange"], event["routing_key"]) == ("lt.events", "delivery.due_soon")
    payload = event["payload"]
    assert payload["delivery_id"] == delivery_id and payload["recipient"] == RECIPIENT
    assert payload["document_id"] == f"{SENDER},2026/11/21,1/UBND-VP"
    assert datetime.fromisoformat(payload["due_at"]) == DUE
    assert datetime.fromisoformat(payload["noticed_at"]) == DUE_SOON
    (mail,) = notifications(db)
    assert (mail.kind, mail.to_address) == ("due_soon.recipient", RECIPIENT_MAIL)
    assert mail.subject == f"Văn bản sắp đến hạn xử lý: {SENDER},2026/11/21,1/UBND-VP"
    assert audit_kinds(db) == ["delivery.due_soon"]
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.due_soon_sent_at is not None
        assert delivery.overdue_sent_at is None


def test_overdue_is_given_once_and_escalated_to_the_sender(db: Database) -> None:
    add_delivery(db)
    scan_once(db, DUE_SOON)
    assert scan_once(db, DUE) == ScanResult(overdue=1, emails=2)
    assert scan_once(db, DUE + timedelta(days=3)) == ScanResult()
    assert [e["type"] for e in outbox_events(db)] == ["delivery.due_soon", "delivery.overdue"]
    kinds = {(n.kind, n.to_address) for n in notifications(db)}
    assert kinds == {
        ("due_soon.recipient", RECIPIENT_MAIL),
        ("overdue.recipient", RECIPIENT_MAIL),
        ("overdue.sender", SENDER_MAIL),
    }
    assert audit_kinds(db) == ["delivery.due_soon", "delivery.overdue"]
    assert verify_chain(db).ok


def test_a_delivery_found_already_late_gets_only_the_overdue_notice(db: Database) -> None:
    delivery_id = add_delivery(db)
    assert scan_once(db, DUE + timedelta(hours=1)) == ScanResult(overdue=1, emails=2)
    assert scan_once(db, DUE + timedelta(hours=2)) == ScanResult()
    assert [e["type"] for e in outbox_events(db)] == ["delivery.overdue"]
    with db.reading() as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.due_soon_sent_at is None


@pytest.mark.parametrize("status", ["02", "06", "15"])
def test_done_deliveries_are_never_noticed(db: Database, status: str) -> None:
    add_delivery(db, status=status)
    assert scan_once(db, DUE_SOON) == ScanResult()
    assert scan_once(db, DUE + timedelta(days=30)) == ScanResult()
    assert outbox_events(db) == [] and notifications(db) == [] and audit_kinds(db) == []


@pytest.mark.parametrize("status", [None, "01", "03", "04", "05", "13"])
def test_open_deliveries_are_noticed_even_before_arrival(db: Database, status: str | None) -> None:
    add_delivery(db, status=status)
    assert scan_once(db, DUE).overdue == 1
    (event,) = outbox_events(db)
    assert event["payload"]["status"] == status


def test_a_delivery_with_no_due_time_is_never_noticed(db: Database) -> None:
    add_delivery(db, due_at=None, due_soon_at=None)
    assert scan_once(db, T0 + timedelta(days=365)) == ScanResult()


def test_with_email_off_the_events_go_out_but_no_mail_is_queued(db: Database) -> None:
    add_delivery(db)
    assert scan_once(db, DUE, email=False) == ScanResult(overdue=1)
    assert len(outbox_events(db, "delivery.overdue")) == 1
    assert notifications(db) == []


def test_an_agency_with_no_mailbox_gets_the_event_but_no_mail(db: Database) -> None:
    add_delivery(db, recipient=OTHER)
    assert scan_once(db, DUE) == ScanResult(overdue=1, emails=1)  # the sender's escalation
    assert [(n.kind, n.to_address) for n in notifications(db)] == [("overdue.sender", SENDER_MAIL)]


def test_a_scan_works_through_every_batch(db: Database) -> None:
    for number in range(7):
        add_delivery(db, number=number)
    assert scan_once(db, DUE, batch=3) == ScanResult(overdue=7, emails=14)
    assert len({e["payload"]["delivery_id"] for e in outbox_events(db)}) == 7


def test_the_worker_object_scans_with_its_settings(db: Database) -> None:
    add_delivery(db)
    scanner = DeadlineScanner(db, interval=1, email=False)
    assert scanner.scan_once(DUE) == ScanResult(overdue=1)


def test_due_times_from_a_real_document_match_the_wall_clock(db: Database) -> None:
    """Through routing's own handler: a DueDate is stored as an instant, so the
    notice comes at 23:59:59 Vietnam time even on SQLite."""
    received = DocumentReceived(
        document=str(uuid.uuid4()),
        document_id=f"{SENDER},2026/11/21,9/UBND-VP",
        sender=SENDER,
        recipients=(RECIPIENT,),
        sha256="cd" * 32,
        size=5,
        received_at=datetime.now(UTC).isoformat(),
        subject="Hạn xử lý",
        priority=0,
        due_date="2030-01-15",
        paper=0,
        business_doc_type=0,
        supersedes=None,
        business_reason="",
        metadata={"Subject": "Hạn xử lý", "DueDate": "2030/01/15", "OtherInfo": {"Priority": 0}},
    )
    with db.unit_of_work() as session:
        consumers.on_document_received(session, received, wrap(received))
    end_of_day = datetime(2030, 1, 15, 16, 59, 59, tzinfo=UTC)  # 23:59:59 +07:00
    assert scan_once(db, end_of_day - timedelta(seconds=1)).overdue == 0
    assert scan_once(db, end_of_day).overdue == 1


# --- the agency mailbox (agency.registered v1 and v2) --------------------------


def _register(db: Database, msg: AgencyRegistered) -> Agency:
    with db.unit_of_work() as session:
        consumers.on_agency_registered(session, msg, wrap(msg))
    with db.reading() as session:
        agency = session.get(Agency, msg.code)
        assert agency is not None
        return agency


def test_v2_sets_the_mailbox_and_v1_leaves_it_alone(db: Database) -> None:
    code = "000.00.05.H41"
    v1 = AgencyRegistered(code=code, name="Sở Y tế", parent_code=SENDER, nonstandard_code=False)
    assert _register(db, v1).email is None
    v2 = AgencyRegisteredV2(
        code=code,
        name="Sở Y tế tỉnh",
        parent_code=SENDER,
        nonstandard_code=False,
        email="vanthu@syt.nghean.gov.vn",
    )
    agency = _register(db, v2)
    assert (agency.name, agency.email) == ("Sở Y tế tỉnh", "vanthu@syt.nghean.gov.vn")
    assert _register(db, v1).email == "vanthu@syt.nghean.gov.vn"
    cleared = AgencyRegisteredV2(
        code=code, name="Sở Y tế", parent_code=None, nonstandard_code=False, email=None
    )
    assert _register(db, cleared).email is None
    bad = AgencyRegisteredV2(
        code=code,
        name="Sở Y tế",
        parent_code=None,
        nonstandard_code=False,
        email="x@y.vn\r\nBcc: z@w.vn",
    )
    assert _register(db, bad).email is None


# --- the overdue listing ---------------------------------------------------------


def test_overdue_lists_late_open_deliveries_oldest_due_first(db: Database) -> None:
    late = add_delivery(db, due_at=DUE, number=1)
    later = add_delivery(db, due_at=DUE + timedelta(hours=1), number=2)
    add_delivery(db, due_at=DUE + timedelta(days=5), number=3)  # not yet due
    add_delivery(db, due_at=DUE - timedelta(hours=5), status="06", number=4)  # done
    add_delivery(db, due_at=DUE, recipient=OTHER, number=5)  # someone else's
    now = DUE + timedelta(hours=3)
    listing = overdue_for(db, RECIPIENT, now)
    assert listing["agency"] == RECIPIENT and listing["total"] == 2
    assert [i["delivery_id"] for i in listing["overdue"]] == [late, later]
    first = listing["overdue"][0]
    assert first["overdue_by_seconds"] == 3 * 3600
    assert first["document_id"] == f"{SENDER},2026/11/21,1/UBND-VP"
    assert first["sender"] == SENDER and first["status"] is None
    assert first["subject"] == "Về việc triển khai văn bản điện tử số 1"
    assert datetime.fromisoformat(first["due_at"]) == DUE
    assert set(first) == {
        "delivery_id",
        "document",
        "document_id",
        "sender",
        "due_at",
        "overdue_by_seconds",
        "status",
        "subject",
    }
    assert overdue_for(db, RECIPIENT, now, limit=1)["overdue"][0]["delivery_id"] == late


@pytest.fixture
def env(base_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}"
    migrate("routing", url)
    return {**base_env, "LIENTHONG_ROUTING_DATABASE_URL": url}


def test_the_internal_endpoint_needs_the_service_token_and_an_agency(env: dict[str, str]) -> None:
    settings = RoutingSettings.from_env(env)
    app = create_app(settings)
    db = context_of(app, RoutingContext).db
    add_agencies(db)
    delivery_id = add_delivery(db, due_at=datetime.now(UTC) - timedelta(minutes=5))
    client = app.test_client()
    auth = {"Authorization": f"Bearer {settings.common.service_token}"}
    assert client.get(f"/internal/v1/overdue?agency={RECIPIENT}").status_code == 401
    assert client.get("/internal/v1/overdue", headers=auth).status_code == 400
    # An out-of-range limit is clamped (one rule for every list), a non-number refused.
    clamped = client.get(f"/internal/v1/overdue?agency={RECIPIENT}&limit=0", headers=auth)
    assert clamped.status_code == 200 and len(clamped.get_json()["overdue"]) == 1
    assert (
        client.get(f"/internal/v1/overdue?agency={RECIPIENT}&limit=x", headers=auth).status_code
        == 400
    )
    response = client.get(f"/internal/v1/overdue?agency={RECIPIENT}", headers=auth)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1 and body["overdue"][0]["delivery_id"] == delivery_id
    assert body["overdue"][0]["overdue_by_seconds"] >= 300
    assert "Về việc" in response.get_data(as_text=True)  # UTF-8, not \\u escapes


def test_create_app_wires_the_scanner_and_the_mail_worker_only_with_smtp(
    env: dict[str, str],
) -> None:
    without = runtime_of(create_app(RoutingSettings.from_env(env)))
    assert "deadline-scanner" in without.workers and "mail" not in without.workers
    app = create_app(
        RoutingSettings.from_env(
            {
                **env,
                "LIENTHONG_SMTP_URL": "smtp://127.0.0.1:2525",
                "LIENTHONG_SMTP_FROM": "lt@nghean.gov.vn",
                "LIENTHONG_DEADLINE_SCAN_SECONDS": "2",
            }
        )
    )
    with_smtp, context = runtime_of(app), context_of(app, RoutingContext)
    assert {"deadline-scanner", "mail", "outbox-relay"} <= set(with_smtp.workers)
    assert context.deadline_scanner.interval == 2
    assert context.deadline_scanner.email is True
    assert context.mail_worker is not None
    # agency.registered v1 and v2 share one handler (the consumer keys them by type).
    consumer = with_smtp.workers["routing-events"].__self__  # type: ignore[attr-defined]
    assert consumer.handlers["agency.registered"] is consumers.on_agency_registered

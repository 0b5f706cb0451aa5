"""The audit hash chain: intact, then altered, removed, reordered and truncated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.common.db import Database
from services.common.wiring import migrate
from services.routing.audit import append, verify_chain
from services.routing.models import AuditHead, AuditRecord


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'routing.sqlite3'}"
    migrate("routing", url)
    database = Database(url)
    with database.unit_of_work() as session:
        for i in range(1, 6):
            append(
                session,
                "delivery.status",
                document="d",
                delivery=f"x{i}",
                agency="000.00.01.H41",
                payload={"code": "03", "n": i, "text": "Đã vào sổ"},
            )
    yield database
    database.dispose()


def test_an_untouched_chain_verifies(db: Database) -> None:
    check = verify_chain(db)
    assert check.ok and check.records == 5


def test_an_altered_record_is_named(db: Database) -> None:
    with db.unit_of_work() as session:
        session.execute(
            sa.update(AuditRecord)
            .where(AuditRecord.seq == 3)
            .values(payload={"code": "06", "n": 3, "text": "Đã vào sổ"})
        )
    check = verify_chain(db)
    assert not check.ok and check.first_bad_seq == 3 and "altered" in str(check.problem)


def test_a_removed_record_is_named(db: Database) -> None:
    with db.unit_of_work() as session:
        session.execute(sa.delete(AuditRecord).where(AuditRecord.seq == 2))
    check = verify_chain(db)
    assert not check.ok and check.first_bad_seq == 2 and "missing" in str(check.problem)


def test_reordered_records_are_named(db: Database) -> None:
    with db.unit_of_work() as session:
        a = session.get(AuditRecord, 2)
        b = session.get(AuditRecord, 4)
        assert a and b
        a_values = (a.kind, a.delivery, a.payload, a.prev_hash, a.hash, a.at)
        a.kind, a.delivery, a.payload, a.prev_hash, a.hash, a.at = (
            b.kind,
            b.delivery,
            b.payload,
            b.prev_hash,
            b.hash,
            b.at,
        )
        b.kind, b.delivery, b.payload, b.prev_hash, b.hash, b.at = a_values
    check = verify_chain(db)
    assert not check.ok and check.first_bad_seq == 2


def test_records_cut_from_the_end_are_noticed(db: Database) -> None:
    with db.unit_of_work() as session:
        session.execute(sa.delete(AuditRecord).where(AuditRecord.seq >= 4))
    check = verify_chain(db)
    assert not check.ok and check.first_bad_seq == 4


def test_appends_continue_the_chain(db: Database) -> None:
    with db.unit_of_work() as session:
        record = append(session, "exchange.created", document="e")
    assert record.seq == 6
    with db.reading() as session:
        head = session.get(AuditHead, 1)
        assert head is not None and head.last_seq == 6 and head.last_hash == record.hash
    assert verify_chain(db).ok

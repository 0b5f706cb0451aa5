"""A tamper-evident audit log: every exchange event appended to a hash chain.

Each record holds the hash of the previous one: hash = SHA-256(prev_hash ||
canonical JSON of the record). Appends serialize on one head row (SELECT ...
FOR UPDATE), so any number of routing processes build one chain. Verification
recomputes the chain and names the first record that was altered, removed or
reordered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.db import Database, insert_if_absent, transaction_local
from services.routing.models import AuditHead, AuditRecord

GENESIS = "0" * 64
HELD_HEAD = transaction_local("lienthong.audit_head")


def _canonical(
    seq: int,
    at: datetime,
    kind: str,
    document: str | None,
    delivery: str | None,
    agency: str | None,
    payload: Mapping[str, object],
) -> bytes:
    moment = at.astimezone(UTC)
    record = {
        "seq": seq,
        "at": moment.isoformat(timespec="microseconds"),
        "kind": kind,
        "document": document,
        "delivery": delivery,
        "agency": agency,
        "payload": payload,
    }
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical).hexdigest()


def lock_head(session: Session) -> AuditHead:
    """Lock the chain's head. Every routing transaction that appends takes it FIRST,
    before any delivery row: one lock order everywhere, so writers cannot deadlock.

    The lock holds until the transaction ends, so the head is remembered for it:
    later appends in the same transaction (a batch of messages) need no query."""
    held: AuditHead | None = session.info.get(HELD_HEAD)
    if held is not None:
        return held
    query = sa.select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.scalars(query).first()
    if head is None:
        insert_if_absent(session, AuditHead, id=1, last_seq=0, last_hash=GENESIS)
        head = session.scalars(query).one()
    session.info[HELD_HEAD] = head
    return head


def append(
    session: Session,
    kind: str,
    *,
    document: str | None = None,
    delivery: str | None = None,
    agency: str | None = None,
    payload: Mapping[str, object] | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one record in the caller's transaction (it commits with the change)."""
    head = lock_head(session)
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    # Stored and hashed to the microsecond, in UTC, so a reload hashes the same.
    body = dict(payload or {})
    seq = head.last_seq + 1
    digest = chain_hash(
        head.last_hash, _canonical(seq, moment, kind, document, delivery, agency, body)
    )
    record = AuditRecord(
        seq=seq,
        at=moment,
        kind=kind,
        document=document,
        delivery=delivery,
        agency=agency,
        payload=body,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(record)
    head.last_seq, head.last_hash = seq, digest
    return record


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(db: Database, batch: int = 5000) -> ChainCheck:
    """Recompute the chain up to the head as it is now; name the first record altered,
    removed or reordered. Appends made while it runs are newer than that head and
    are left for the next check (each append commits its record and the head
    together, so every record up to the head read here is visible)."""
    with db.reading() as session:
        head = session.get(AuditHead, 1)
        head_seq = head.last_seq if head else 0
        head_hash = head.last_hash if head else GENESIS
    expected_prev, expected_seq, count = GENESIS, 1, 0
    last_seen = 0
    while last_seen < head_seq:
        with db.reading() as session:
            rows = session.scalars(
                sa.select(AuditRecord)
                .where(AuditRecord.seq > last_seen, AuditRecord.seq <= head_seq)
                .order_by(AuditRecord.seq)
                .limit(batch)
            ).all()
        if not rows:
            break
        for r in rows:
            if r.seq != expected_seq:
                return ChainCheck(
                    False,
                    count,
                    expected_seq,
                    f"record {expected_seq} is missing (next is {r.seq})",
                )
            if r.prev_hash != expected_prev:
                return ChainCheck(
                    False,
                    count,
                    r.seq,
                    f"record {r.seq} does not follow record {r.seq - 1} "
                    "(removed, reordered or re-chained)",
                )
            digest = chain_hash(
                r.prev_hash,
                _canonical(r.seq, r.at, r.kind, r.document, r.delivery, r.agency, r.payload),
            )
            if digest != r.hash:
                return ChainCheck(False, count, r.seq, f"record {r.seq} was altered")
            expected_prev, expected_seq, count = r.hash, r.seq + 1, count + 1
            last_seen = r.seq
    if count != head_seq or expected_prev != head_hash:
        return ChainCheck(
            False,
            count,
            count + 1,
            f"the chain ends at record {count} but its head says {head_seq}: "
            f"records after {count} were removed",
        )
    return ChainCheck(True, count)

"""Batches: several drafts signed (a leader) or sealed (a clerk) after one PIN entry.
A worker signs them a few at a time; each document gets its own outcome, and one
failure stops nothing else. The page polls the progress."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from services.common.db import Database
from services.common.errors import LienThongError, ValidationFailed
from services.common.storage import ObjectStore
from services.web import drafts
from services.web.clients import SigningClient
from services.web.models import Batch, BatchItem, Draft, User
from services.web.security import now

log = logging.getLogger(__name__)
SIGN, SEAL = "sign", "seal"


class BatchRunner:
    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        signing: SigningClient,
        spool_dir: Path,
        workers: int,
    ) -> None:
        self.db = db
        self.store = store
        self.signing = signing
        self.spool_dir = spool_dir
        self.workers = workers
        self._wake = threading.Event()

    def submit(self, user: User, kind: str, draft_ids: list[str]) -> str:
        expected = drafts.DRAFT if kind == SIGN else drafts.SIGNED
        if not draft_ids:
            raise ValidationFailed("select at least one draft")
        batch_id = str(uuid.uuid4())
        with self.db.unit_of_work() as session:
            rows = list(session.scalars(sa.select(Draft).where(Draft.id.in_(draft_ids))))
            if len(rows) != len(set(draft_ids)) or any(
                d.agency_code != user.agency_code
                or d.state != expected
                or (kind == SIGN and d.leader_id != user.id)
                for d in rows
            ):
                raise ValidationFailed("some of the selected drafts cannot be taken in this batch")
            session.add(
                Batch(
                    id=batch_id,
                    agency_code=user.agency_code,
                    user_id=user.id,
                    kind=kind,
                    created_at=now(),
                )
            )
            session.flush()
            for draft_id in draft_ids:
                session.add(BatchItem(batch_id=batch_id, draft_id=draft_id, state="waiting"))
        self._wake.set()
        return batch_id

    def progress(self, agency: str, user_id: int, batch_id: str) -> dict[str, Any]:
        with self.db.reading() as session:
            batch = session.get(Batch, batch_id)
            if batch is None or batch.agency_code != agency or batch.user_id != user_id:
                from services.common.errors import NotFound

                raise NotFound("no such batch of yours")
            rows = session.execute(
                sa.select(BatchItem, Draft.subject)
                .join(Draft, Draft.id == BatchItem.draft_id)
                .where(BatchItem.batch_id == batch_id)
                .order_by(BatchItem.id)
            ).all()
        items = [
            {"draft": i.draft_id, "subject": s, "state": i.state, "message": i.message}
            for i, s in rows
        ]
        finished = sum(1 for i in items if i["state"] in ("done", "failed"))
        return {
            "id": batch_id,
            "kind": batch.kind,
            "total": len(items),
            "finished": finished,
            "failed": sum(1 for i in items if i["state"] == "failed"),
            "done": finished == len(items),
            "items": items,
        }

    # --- the worker --------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """``workers`` threads, each taking the next waiting document as soon as it is
        free: a slow document holds up no other."""
        threads = [
            threading.Thread(target=self._loop, args=(stop,), name=f"web-batch-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            claimed = self._claim(1)
            if not claimed:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            self._one(claimed[0])

    def _claim(self, limit: int) -> list[tuple[int, str, str, int]]:
        with self.db.unit_of_work() as session:
            rows = session.execute(
                sa.select(BatchItem, Batch)
                .join(Batch, Batch.id == BatchItem.batch_id)
                .where(BatchItem.state == "waiting")
                .order_by(BatchItem.id)
                .limit(limit)
            ).all()
            for item, _batch in rows:
                item.state = "running"
            return [(i.id, i.draft_id, b.kind, b.user_id) for i, b in rows]

    def _one(self, claimed: tuple[int, str, str, int]) -> None:
        item_id, draft_id, kind, user_id = claimed
        try:
            with self.db.reading() as session:
                draft = session.get(Draft, draft_id)
                user = session.get(User, user_id)
            assert draft is not None and user is not None
            if kind == SIGN:
                drafts.sign_draft(self.db, self.store, self.signing, self.spool_dir, draft, user)
            else:
                drafts.seal_draft(self.db, self.store, self.signing, self.spool_dir, draft)
            state, message = "done", ""
        except LienThongError as e:
            state, message = "failed", e.detail
        except Exception as e:  # one document's failure stops nothing else
            log.exception("batch item %s failed", item_id)
            state, message = "failed", f"unexpected error: {type(e).__name__}"
        with self.db.unit_of_work() as session:
            session.execute(
                sa.update(BatchItem)
                .where(BatchItem.id == item_id)
                .values(state=state, message=message[:2000])
            )

"""Verify-on-arrival: every document ingest receives is verified; the verdict is kept
with the document and announced as document.verified for routing's ledger, with
whether the document is a scan (its pages carry images only and no text layer),
decided once, here, on the same spooled copy.

Verifying a PDF is slow (parsing, maybe fetching revocation data over the network), so
it is done before the consumer's transaction opens (:meth:`ArrivalVerification.verify_batch`,
the consumer's ``outside_transaction`` step); the handler then only records the report
it finds, in a short transaction.
"""

from __future__ import annotations

import tempfile
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.common.bus.envelope import Envelope, Message
from services.common.bus.messages import (
    DocumentReceived,
    DocumentsVerifiedV2,
    DocumentVerifiedV2,
)
from services.common.bus.outbox import add_folded_to_outbox
from services.common.bus.topology import EVENTS
from services.common.contract import Verdict
from services.common.db import Database, add_row, get_row, load_rows
from services.common.errors import ValidationFailed
from services.common.storage import ObjectStore
from services.signing.errors import PdfWorkersBusy
from services.signing.models import BUS, KnownDocument
from services.signing.pdfwork import InProcessReading, PdfReading
from services.signing.verification.model import SignatureReport, VerificationReport
from services.signing.verifier import PdfVerifier

BUSY_RETRIES = 10


class ArrivalSummary(TypedDict):
    """What document.verified tells routing about a document's signatures."""

    verdict: Verdict
    signature_count: int
    signers: list[str]
    organization_signed: bool
    reasons: list[str]


class NotVerifiedYet(RuntimeError):
    """A document reached the handler without its report: the consumer did not run
    ``verify_batch`` first. Failing (and being retried) beats verifying under locks."""


def _same(a: str | None, b: str | None) -> bool:
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return bool(a and b and norm(a) == norm(b))


def is_organization_signature(signature: SignatureReport) -> bool:
    """A valid signature by an organization certificate.

    Decree 30 organization certificates name the organization itself (CN = O, as
    our PKI issues them); a personal certificate names a person within it.
    """
    signer = signature.signer
    return (
        signature.verdict is Verdict.VALID
        and signer is not None
        and _same(signer.common_name, signer.organization)
    )


def summarize(report: VerificationReport) -> ArrivalSummary:
    signed = [s for s in report.signatures if s.signer is not None]
    return ArrivalSummary(
        verdict=report.verdict,
        signature_count=len(signed),
        signers=[s.signer.subject for s in signed if s.signer],
        organization_signed=any(is_organization_signature(s) for s in report.signatures),
        reasons=list(report.reasons),
    )


def check_batch(session: Session, messages: list[Message]) -> None:
    """Before a batch: which of its documents are already known, in one query."""
    load_rows(
        session, KnownDocument, [m.document for m in messages if isinstance(m, DocumentReceived)]
    )


class ArrivalVerification:
    """Verifies arriving documents before the transaction, records them inside it.

    The reports wait in memory between the two steps, keyed by document; each call of
    :meth:`verify_batch` keeps only those of its own messages, so at most one batch's
    reports are held.
    """

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        verifier: PdfVerifier,
        spool_dir: Path,
        pdf: PdfReading | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.verifier = verifier
        self.spool_dir = spool_dir
        self.pdf = pdf or InProcessReading()
        self._reports: dict[str, tuple[VerificationReport, bool | None]] = {}

    def _scanned(self, path: Path) -> bool | None:
        """Images only and no text layer; None when the pages cannot be read (or the
        workers stay busy): the ledger then says it could not be told."""
        for _ in range(BUSY_RETRIES):
            try:
                return self.pdf.scanned(path)
            except PdfWorkersBusy:
                continue
            except ValidationFailed:  # not a PDF, over a budget
                return None
        return None

    def verify_stored(self, sha256: str) -> VerificationReport:
        return self.examine_stored(sha256)[0]

    def examine_stored(self, sha256: str) -> tuple[VerificationReport, bool | None]:
        """The verification report and whether the document is a scan."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.spool_dir, suffix=".pdf") as tmp:
            head, size = b"", 0
            for chunk in self.store.iter_bytes(sha256):
                if len(head) < 1024:
                    head += chunk[: 1024 - len(head)]
                size += len(chunk)
                tmp.write(chunk)
            tmp.flush()
            if b"%PDF-" not in head:
                # An edXML package may carry no PDF at all (a .doc, a .txt): such a
                # document travels like any other and counts as unsigned.
                # Whether it is a scan cannot be told from its pages: None, as for
                # a PDF whose pages cannot be read.
                report = VerificationReport(
                    Verdict.UNSIGNED,
                    reasons=("the document is not a PDF: it carries no PDF signature",),
                    file_size=size,
                    sha256=sha256,
                    verified_at=datetime.now(UTC).isoformat(),
                )
                return report, None
            # A document's verdict is kept for good: when every PDF worker stays busy
            # (each wait is bounded by the queue setting) wait again rather than record
            # "busy" as its verdict; after that the consumer's own retry takes over.
            path = Path(tmp.name)
            return self._verify(path), self._scanned(path)

    def _verify(self, path: Path) -> VerificationReport:
        for _ in range(BUSY_RETRIES):
            try:
                return self.verifier.verify(path)
            except PdfWorkersBusy:
                continue
        return self.verifier.verify(path)

    def verify_batch(self, messages: list[Message]) -> None:
        """Verify the batch's new documents, outside any transaction. A report already
        held (the same batch retried message by message) is not made again."""
        received = {m.document: m for m in messages if isinstance(m, DocumentReceived)}
        self._reports = {d: r for d, r in self._reports.items() if d in received}
        if not received:
            return
        with self.db.reading() as session:
            known = set(
                session.scalars(
                    sa.select(KnownDocument.id).where(KnownDocument.id.in_(list(received)))
                )
            )
        for document, msg in received.items():
            if document not in known and document not in self._reports:
                self._reports[document] = self.examine_stored(msg.sha256)

    def on_document_received(self, session: Session, msg: DocumentReceived, _env: Envelope) -> None:
        if get_row(session, KnownDocument, msg.document) is not None:
            self._reports.pop(msg.document, None)
            return
        examined = self._reports.pop(msg.document, None)
        if examined is None:
            raise NotVerifiedYet(f"document {msg.document} was not verified before its batch")
        report, scanned = examined
        summary = summarize(report)
        now = datetime.now(UTC)
        add_row(
            session,
            KnownDocument(
                id=msg.document,
                document_id=msg.document_id,
                sender_code=msg.sender,
                recipients=list(msg.recipients),
                sha256=msg.sha256,
                size=msg.size,
                doc_metadata=msg.metadata,
                received_at=datetime.fromisoformat(msg.received_at),
                verdict=report.verdict.value,
                verification=report.to_dict(),
                verified_at=now,
            ),
        )
        add_folded_to_outbox(
            session,
            BUS,
            DocumentVerifiedV2(
                document=msg.document,
                sha256=msg.sha256,
                verdict=summary["verdict"],
                signature_count=summary["signature_count"],
                signers=tuple(summary["signers"]),
                organization_signed=summary["organization_signed"],
                verified_at=now.isoformat(),
                reasons=tuple(summary["reasons"])[:20],
                scanned=scanned,
            ),
            fold=DocumentsVerifiedV2.of,
            exchange=EVENTS.name,
        )

"""State the checkers share while one document is verified: the document, each
prepared signature field, and each report under construction. The checkers hold only
configuration; this state is passed to them explicitly, call by call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, TypedDict

from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from services.common.contract import Verdict
from services.signing.verification.model import (
    VERDICT_OF,
    FieldKind,
    Indication,
    SubIndication,
)
from services.signing.verification.revocation import RevinfoPool
from services.signing.verification.structure import FieldEntry, Structure


@dataclass
class _Doc:
    """Per-document state shared by the checks of each signature."""

    s: Structure
    stream: IO[bytes]
    size: int
    now: datetime
    explicit_now: bool
    pool: RevinfoPool
    notes: list[str] = field(default_factory=list)
    signed_fields: set[str] = field(default_factory=set)
    # (revision the document time-stamp covers, its time), trusted ones only
    poe: list[tuple[int, datetime]] = field(default_factory=list)
    final_need_appearances: bool = False
    mentions_signature: bool = False  # the raw bytes contain "/ByteRange"

    def now_moment(self) -> datetime | None:
        """The validation moment for "now": ``None`` (the live clock) unless given."""
        return self.now if self.explicit_now else None

    def covering_poe(self, revision: int) -> datetime | None:
        """The earliest trusted document time-stamp covering ``revision``, if any."""
        times = [t for rev, t in self.poe if rev > revision]
        return min(times) if times else None


@dataclass
class _Prepared:
    field: FieldEntry
    kind: FieldKind
    emb: EmbeddedPdfSignature | None
    judged: _Judged
    sub_filter: str | None


@dataclass(frozen=True)
class Finding:
    """One reason a signature is not TOTAL-PASSED, with its ETSI sub-indication."""

    indication: Indication
    sub_indication: SubIndication
    text: str


class Outcome(TypedDict):
    """The verdict fields of a :class:`~.model.SignatureReport`."""

    verdict: Verdict
    reasons: tuple[str, ...]
    indication: Indication
    sub_indication: SubIndication | None


@dataclass
class _Judged:
    """A report under construction: what failed (TOTAL-FAILED), what could not be
    decided (INDETERMINATE), and notes that change nothing."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def invalid(self, sub: SubIndication, *texts: str) -> None:
        for text in texts:
            self.findings.append(Finding(Indication.TOTAL_FAILED, sub, text))

    def indeterminate(self, sub: SubIndication, *texts: str) -> None:
        for text in texts:
            self.findings.append(Finding(Indication.INDETERMINATE, sub, text))

    def _ranked(self) -> list[Finding]:
        failed = [f for f in self.findings if f.indication == Indication.TOTAL_FAILED]
        return failed + [f for f in self.findings if f.indication != Indication.TOTAL_FAILED]

    def indication(self) -> Indication:
        ranked = self._ranked()
        return ranked[0].indication if ranked else Indication.TOTAL_PASSED

    def sub_indication(self) -> SubIndication | None:
        ranked = self._ranked()
        return ranked[0].sub_indication if ranked else None

    def verdict(self) -> Verdict:
        return VERDICT_OF[self.indication()]

    def reasons(self) -> tuple[str, ...]:
        return tuple(f.text for f in self._ranked())

    def outcome(self) -> Outcome:
        """Verdict, reasons and ETSI indication, for a report's constructor."""
        return Outcome(
            verdict=self.verdict(),
            reasons=self.reasons(),
            indication=self.indication(),
            sub_indication=self.sub_indication(),
        )

"""State the checkers share while one document is verified: the document, each
prepared signature field, and each report under construction. The checkers hold only
configuration; this state is passed to them explicitly, call by call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from services.common.contract import Verdict
from services.signing.verification.model import FieldKind
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


@dataclass
class _Judged:
    """A report under construction."""

    reasons_invalid: list[str] = field(default_factory=list)
    reasons_indeterminate: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def verdict(self) -> Verdict:
        if self.reasons_invalid:
            return Verdict.INVALID
        if self.reasons_indeterminate:
            return Verdict.INDETERMINATE
        return Verdict.VALID

    def reasons(self) -> tuple[str, ...]:
        return tuple(self.reasons_invalid + self.reasons_indeterminate)

"""The whole document: every field judged, then the overall verdict.

:class:`DocumentChecker` drives the other checkers (:class:`~.fields.FieldChecker`,
:class:`~.timestamps.TimestampChecker`, :class:`~.signatures.SignatureChecker`) over one
parsed document, whose state (:class:`~.state._Doc`) it passes to each of them.
"""

from __future__ import annotations

import contextlib

from services.common.contract import Verdict
from services.signing.verification import policy, revocation, structure
from services.signing.verification.contexts import Contexts
from services.signing.verification.fields import FieldChecker, empty_report, unvalidated_report
from services.signing.verification.findings import _iso, _msg
from services.signing.verification.model import (
    FieldKind,
    Indication,
    SignatureReport,
    SubIndication,
    VerificationReport,
)
from services.signing.verification.signatures import SignatureChecker
from services.signing.verification.state import _Doc, _Judged, _Prepared
from services.signing.verification.structure import FieldEntry
from services.signing.verification.timestamps import TimestampChecker


class DocumentChecker:
    """Judging a parsed document as a whole."""

    def __init__(
        self,
        contexts: Contexts,
        fields: FieldChecker,
        timestamps: TimestampChecker,
        signatures: SignatureChecker,
    ) -> None:
        self.contexts = contexts
        self.fields = fields
        self.timestamps = timestamps
        self.signatures = signatures

    async def analyse(self, doc: _Doc) -> VerificationReport:
        s = doc.s
        reader = s.reader
        doc_invalid: list[str] = []
        doc_indeterminate: list[str] = []
        notes: list[str] = doc.notes
        if not s.strict:
            notes.append(f"the file is not well-formed ({s.strict_error}); read leniently")
        if s.encrypted:
            notes.append(
                "the document is encrypted"
                + ("" if s.decrypted else " and could not be decrypted (no key)")
            )
        for anomaly in s.anomalies:
            doc_indeterminate.append(f"signature structure anomaly: {anomaly}")
        revisions = None
        with contextlib.suppress(Exception):
            revisions = reader.xrefs.total_revisions

        filled = [f for f in s.fields if f.value is not None]
        if not filled and doc.mentions_signature:
            doc_indeterminate.append(
                "the file contains a signature value (/ByteRange) that no signature field "
                "refers to; it was not validated"
            )
        if not filled:
            verdict = Verdict.INDETERMINATE if doc_indeterminate else Verdict.UNSIGNED
            empties = tuple(empty_report(f) for f in s.fields)
            if not empties and verdict == Verdict.UNSIGNED:
                notes.append("the document has no signature fields")
            return VerificationReport(
                verdict=verdict,
                reasons=tuple(doc_indeterminate),
                indication=Indication.INDETERMINATE if doc_indeterminate else None,
                sub_indication=SubIndication.SIGNED_DATA_NOT_FOUND if doc_indeterminate else None,
                notes=tuple(notes),
                revisions=revisions,
                encrypted=s.encrypted,
                signatures=empties,
                verified_at=_iso(doc.now),
                trust_anchors=self.contexts.anchor_names,
                fetching_allowed=self.contexts.allow_fetching,
            )

        if not s.strict:
            doc_indeterminate.append(
                "a signed document must be well-formed; it could only be read leniently"
            )
        tail_problem = self._tail_problem(doc)
        if tail_problem:
            doc_invalid.append(f"unexplained data at the end of the file: {tail_problem}")
        revocation.read_dss(reader, doc.pool, notes)
        doc.final_need_appearances = policy.need_appearances(reader, None)

        # classify every filled field; parse the ones we can
        prepared = [self._prepare(doc, f) for f in filled]
        doc.signed_fields = {p.field.name for p in prepared if p.kind != FieldKind.UNKNOWN}
        for p in prepared:
            if p.emb is not None:
                try:
                    revocation.read_cms_archival(p.emb.signer_info, doc.pool)
                except Exception:
                    notes.append("revocation data inside a signature could not be read")

        # document time-stamps first, newest first: they give proofs of existence
        reports: dict[int, SignatureReport] = {}
        stamps = [p for p in prepared if p.kind == FieldKind.DOCUMENT_TIMESTAMP]
        stamps.sort(key=lambda p: -(p.emb.signed_revision if p.emb is not None else -1))
        for p in stamps:
            try:
                reports[id(p.field)] = await self.timestamps.document_timestamp(doc, p)
            except Exception as e:
                reports[id(p.field)] = _failed_report(p, e)
        for p in prepared:
            if p.kind == FieldKind.SIGNATURE:
                try:
                    reports[id(p.field)] = await self.signatures.signature(doc, p)
                except Exception as e:
                    reports[id(p.field)] = _failed_report(p, e)
            elif p.kind == FieldKind.UNKNOWN:
                reports[id(p.field)] = unvalidated_report(p)

        signatures: list[SignatureReport] = []
        timestamps: list[SignatureReport] = []
        for f in s.fields:
            if f.value is None:
                signatures.append(empty_report(f))
                continue
            r = reports[id(f)]
            (timestamps if r.kind == FieldKind.DOCUMENT_TIMESTAMP else signatures).append(r)

        all_reports = [r for r in signatures if r.kind != FieldKind.EMPTY] + timestamps
        reasons: list[str] = []
        for r in all_reports:
            for reason in r.reasons:
                reasons.append(f"{r.field_name}: {reason}")
        if any(r.verdict == Verdict.INVALID for r in all_reports) or doc_invalid:
            verdict = Verdict.INVALID
        elif any(r.verdict != Verdict.VALID for r in all_reports) or doc_indeterminate:
            verdict = Verdict.INDETERMINATE
        else:
            verdict = Verdict.VALID
        indication, sub = _deciding(verdict, all_reports, doc_invalid, doc_indeterminate)
        if all(r.kind == FieldKind.DOCUMENT_TIMESTAMP for r in all_reports):
            notes.append("the document carries document time-stamps only, no signature")
        return VerificationReport(
            verdict=verdict,
            reasons=tuple(doc_invalid + doc_indeterminate + reasons),
            indication=indication,
            sub_indication=sub,
            notes=tuple(notes),
            revisions=revisions,
            encrypted=s.encrypted,
            signatures=tuple(signatures),
            document_timestamps=tuple(timestamps),
            verified_at=_iso(doc.now),
            trust_anchors=self.contexts.anchor_names,
            fetching_allowed=self.contexts.allow_fetching,
        )

    def _prepare(self, doc: _Doc, f: FieldEntry) -> _Prepared:
        try:
            return self.fields.prepare(doc, f)
        except Exception as e:
            j = _Judged()
            j.indeterminate(SubIndication.GENERIC, f"the signature could not be checked: {_msg(e)}")
            return _Prepared(f, FieldKind.UNKNOWN, None, j, None)

    def _tail_problem(self, doc: _Doc) -> str | None:
        try:
            offset = max(0, doc.size - structure.TAIL_LIMIT)
            doc.stream.seek(offset)
            tail = doc.stream.read()
            return structure.unexplained_tail(doc.s.reader, tail, offset)
        except Exception as e:
            return f"the end of the file could not be checked ({_msg(e)})"


def _deciding(
    verdict: Verdict,
    reports: list[SignatureReport],
    doc_invalid: list[str],
    doc_indeterminate: list[str],
) -> tuple[Indication, SubIndication | None]:
    """The document's ETSI indication: that of the first signature or time-stamp whose
    verdict is the document's, or of a finding about the file as a whole."""
    for r in reports:
        if r.verdict == verdict and r.indication is not None:
            return r.indication, r.sub_indication
    if doc_invalid:  # the file was changed outside any revision a signature covers
        return Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE
    if doc_indeterminate:
        return Indication.INDETERMINATE, SubIndication.GENERIC
    return Indication.TOTAL_PASSED, None


def _failed_report(p: _Prepared, e: Exception) -> SignatureReport:
    """A field whose check stopped on an unexpected error: what was found so far, and
    the error in words, never a traceback. Not valid, and not invalid for that alone."""
    j = p.judged
    j.indeterminate(SubIndication.GENERIC, f"the signature could not be checked: {_msg(e)}")
    return SignatureReport(
        field_name=p.field.name,
        kind=p.kind,
        **j.outcome(),
        notes=tuple(j.notes),
        sub_filter=p.sub_filter,
    )

"""Time-stamp tokens: validating one (on a signature or as a document time-stamp)
and judging a document time-stamp field.

:class:`TimestampChecker` uses the trust configuration (:class:`~.contexts.Contexts`)
and the field checks (:class:`~.fields.FieldChecker`); the document state is passed to
each call. A trusted document time-stamp adds a proof of existence to that state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from asn1crypto import cms, x509
from pyhanko.sign.ades.report import AdESIndeterminate
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError

from services.signing.verification.certificates import _path_certs, cert_info
from services.signing.verification.contexts import Contexts
from services.signing.verification.fields import FieldChecker
from services.signing.verification.findings import (
    _TIME_PROBLEMS,
    CmsResult,
    _byte_range,
    _coverage,
    _msg,
    _report_base,
    _signature_error,
    _trust_text,
    _trusted,
    _ts_info,
    cms_result,
    sub_indication_of,
)
from services.signing.verification.model import (
    SignatureReport,
    SubIndication,
    TimeSource,
    TimestampInfo,
)
from services.signing.verification.state import _Doc, _Judged, _Prepared


class TimestampChecker:
    """Time-stamp token validation and document time-stamp fields."""

    def __init__(self, contexts: Contexts, fields: FieldChecker) -> None:
        self.contexts = contexts
        self.fields = fields

    async def validate_tst(
        self,
        doc: _Doc,
        signed_data: cms.SignedData,
        imprint: Callable[[str], bytes],
        revision: int,
        j: _Judged,
    ) -> tuple[CmsResult, TimeSource]:
        """Validate a time-stamp token now; failing that for reasons of time, at a later
        trusted document time-stamp (the LTA chain); failing that because the embedded
        revocation data is too old for today, now without it (soft-fail semantics: the
        current status is then unknown, which the notes say)."""

        async def once(moment: datetime | None, revinfo: bool = True) -> CmsResult:
            vc = self.contexts.validation_context(doc, moment, revinfo=revinfo, proven=moment)
            kw = cms_result(await generic_cms.validate_tst_signed_data(signed_data, vc, imprint))
            self.contexts.absorb(doc, vc)
            return kw

        kw = await once(doc.now_moment())
        if _trusted(kw):
            return kw, TimeSource.NOW
        indic = kw.get("trust_problem_indic")
        if indic in _TIME_PROBLEMS or indic == AdESIndeterminate.TRY_LATER:
            poe = doc.covering_poe(revision)
            if poe is not None:
                again = await once(poe)
                if _trusted(again):
                    return again, TimeSource.DOCUMENT_TIMESTAMP
        if indic == AdESIndeterminate.TRY_LATER and self.contexts.revocation_mode == "soft-fail":
            again = await once(doc.now_moment(), revinfo=False)
            if _trusted(again):
                j.notes.append(
                    "the embedded revocation data for the time-stamping authority is too old "
                    "for today; its current revocation status is unknown"
                )
                return again, TimeSource.NOW
        return kw, TimeSource.NOW

    async def document_timestamp(self, doc: _Doc, p: _Prepared) -> SignatureReport:
        emb, j = p.emb, p.judged
        base = _report_base(p)
        if emb is None:
            return SignatureReport(**j.outcome(), notes=tuple(j.notes), **base)
        judgement = self.fields.modifications(doc, emb, j)
        ts_info: TimestampInfo | None = None
        chain: list[x509.Certificate] = []
        tsa_cert: x509.Certificate | None = None
        try:
            kw, source = await self.validate_tst(
                doc, emb.signed_data, emb.compute_digest, emb.signed_revision, j
            )
            tsa_cert = kw.get("signing_cert")
            ts_info = _ts_info(kw, source)
            chain = _path_certs(kw.get("validation_path"))
            if not (kw["intact"] and kw["valid"]):
                j.invalid(
                    SubIndication.HASH_FAILURE,
                    "the document time-stamp does not match the document or its signature "
                    "is broken",
                )
            elif not _trusted(kw):
                j.indeterminate(
                    sub_indication_of(kw),
                    "the document time-stamp is not trusted: " + _trust_text(kw),
                )
            elif not j.reasons():
                doc.poe.append((emb.signed_revision, kw["timestamp"]))
        except SignatureValidationError as e:
            _signature_error(j, e)
        except Exception as e:
            j.indeterminate(
                SubIndication.GENERIC, f"the time-stamp could not be validated: {_msg(e)}"
            )
        return SignatureReport(
            **j.outcome(),
            notes=tuple(j.notes),
            revision=emb.signed_revision,
            byte_range=_byte_range(emb),
            intact=ts_info.intact if ts_info else None,
            crypto_valid=ts_info.valid if ts_info else None,
            signer=cert_info(tsa_cert) if tsa_cert is not None else None,
            chain=tuple(cert_info(c) for c in chain),
            trusted=ts_info.trusted if ts_info else None,
            trust_anchor=chain[-1].subject.human_friendly if chain else None,
            trust_problem=ts_info.problem if ts_info else None,
            revocation=self.contexts.revocation(doc, chain),
            signing_time=ts_info.time if ts_info else None,
            validation_time=ts_info.validation_time if ts_info else None,
            validation_time_source=TimeSource(ts_info.validation_time_source)
            if ts_info and ts_info.validation_time_source
            else None,
            timestamp=ts_info,
            coverage=_coverage(emb.coverage),
            coverage_detail=emb.coverage.name if emb.coverage is not None else None,
            modification_level=judgement.level,
            suspicious_modification=judgement.suspicious,
            changed_form_fields=judgement.changed_fields,
            changes=tuple(judgement.changes),
            **base,
        )

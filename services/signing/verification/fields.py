"""Per-field checks: classify a filled signature field, parse its signature, check
its digest and coverage and judge the changes made after it.

:class:`FieldChecker` holds the difference policy; the document state is passed to
each call. The reports of empty and unvalidated fields need nothing else and are plain
functions.
"""

from __future__ import annotations

from pyhanko.pdf_utils import generic
from pyhanko.sign.diff_analysis import DiffPolicy
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from services.common.contract import Verdict
from services.signing.verification import changes, policy, structure
from services.signing.verification.findings import _msg, _safe, unsupported_digests
from services.signing.verification.model import FieldKind, SignatureReport, SubIndication
from services.signing.verification.policy import ModificationJudgement
from services.signing.verification.state import _Doc, _Judged, _Prepared
from services.signing.verification.structure import FieldEntry

SIGNATURE_SUBFILTERS = frozenset({"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/PBAD.PAdES"})
TIMESTAMP_SUBFILTERS = frozenset({"/ETSI.RFC3161"})


class _EmbeddedSignature(EmbeddedPdfSignature):
    """pyHanko's embedded signature, validated in hybrid-reference files too.

    With a strict reader pyHanko refuses to validate any signature in a file with a
    classic cross-reference table plus an ``/XRefStm`` (as Word and Acrobat write them);
    its lenient reader would accept them but also substitutes ``null`` for unreadable
    objects, which we never allow. We keep the strict reader and lift only that refusal:
    pyHanko's strict reader still checks the hybrid sections for consistency (a free
    entry may be overridden only by the hybrid stream of the same update, generations
    must follow their frees), its difference analysis resolves objects through the
    hybrid streams as a hybrid-aware viewer does (an object redefined only in the
    ``/XRefStm`` of a later update is an unexplained change like any other), and
    :func:`hybrid_outside_signed_bytes` checks that the hybrid stream of a signed
    revision lies inside the signed bytes.
    """

    def _enforce_hybrid_xref_policy(self) -> None:
        return None


def byte_range_problem(byte_range: object, size: int) -> str | None:
    """What is wrong with a /ByteRange before any byte is read through it: it must be an
    array of (offset, length) pairs of non-negative integers within the file."""
    if not isinstance(byte_range, generic.ArrayObject) or not byte_range or len(byte_range) % 2:
        return "the signature's /ByteRange is not an array of offset and length pairs"
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in byte_range):
        return "the signature's /ByteRange holds something other than integers"
    values = [int(x) for x in byte_range]
    if any(x < 0 for x in values):
        return f"the signature's /ByteRange {values} holds a negative offset or length"
    for start, length in zip(values[::2], values[1::2], strict=True):
        if start + length > size:
            return (
                f"the signature's /ByteRange {values} reaches beyond the end of the file "
                f"({size} bytes)"
            )
    return None


def hybrid_outside_signed_bytes(emb: EmbeddedPdfSignature) -> bool:
    """Whether the hybrid cross-reference stream of a revision the signature covers lies
    (partly) after the signed bytes. pyHanko's coverage check looks at the classic
    table of each signed revision only; its ``/XRefStm`` could otherwise point at bytes
    appended after signing, which hybrid-aware viewers would read as part of the signed
    revision."""
    xrefs = emb.reader.xrefs
    if not xrefs.hybrid_xrefs_present:
        return False
    _s1, len1, start2, len2 = (int(x) for x in emb.byte_range)
    signed_zone_len = start2 + len2
    for revision in range(emb.signed_revision + 1):
        hybrid = xrefs.get_xref_data(revision).hybrid
        if hybrid is None:
            continue
        start, end = hybrid.meta_info.start_location, hybrid.meta_info.end_location
        if end > signed_zone_len or (start < start2 and end > len1):  # after, or in the gap
            return True
    return False


def empty_report(f: FieldEntry) -> SignatureReport:
    return SignatureReport(
        field_name=f.name,
        kind=FieldKind.EMPTY,
        verdict=Verdict.UNSIGNED,
        notes=("empty signature field",),
        visible=structure.is_visible(f.field),
    )


def unvalidated_report(p: _Prepared) -> SignatureReport:
    j, sub_filter = p.judged, p.sub_filter
    if not j.findings:
        j.indeterminate(SubIndication.GENERIC, "the signature was not validated")
    return SignatureReport(
        field_name=p.field.name,
        kind=FieldKind.UNKNOWN,
        **j.outcome(),
        notes=tuple(j.notes),
        sub_filter=sub_filter,
    )


class FieldChecker:
    """Classifying, parsing and integrity-checking the filled signature fields."""

    def __init__(self, diff_policy: DiffPolicy) -> None:
        self.diff_policy = diff_policy

    def prepare(self, doc: _Doc, f: FieldEntry) -> _Prepared:
        j = _Judged()
        try:
            value = f.value
            sig_obj = value.get_object()
            if not isinstance(sig_obj, generic.DictionaryObject):
                j.invalid(
                    SubIndication.FORMAT_FAILURE, "the field's value is not a signature dictionary"
                )
                return _Prepared(f, FieldKind.UNKNOWN, None, j, None)
            type_ = sig_obj.raw_get("/Type") if "/Type" in sig_obj else "/Sig"
            sub_filter = str(sig_obj.raw_get("/SubFilter")) if "/SubFilter" in sig_obj else None
            if type_ == "/DocTimeStamp":
                kind, allowed = FieldKind.DOCUMENT_TIMESTAMP, TIMESTAMP_SUBFILTERS
            elif type_ == "/Sig":
                kind, allowed = FieldKind.SIGNATURE, SIGNATURE_SUBFILTERS
            else:
                j.invalid(
                    SubIndication.FORMAT_FAILURE,
                    f"the signature dictionary has an unexpected /Type {type_}",
                )
                return _Prepared(f, FieldKind.UNKNOWN, None, j, sub_filter)
            if sub_filter not in allowed:
                j.indeterminate(
                    SubIndication.GENERIC,
                    f"unsupported signature format (SubFilter {sub_filter}); not validated",
                )
                return _Prepared(f, FieldKind.UNKNOWN, None, j, sub_filter)
            if not isinstance(value, generic.IndirectObject):
                j.invalid(
                    SubIndication.FORMAT_FAILURE,
                    "the signature dictionary is not an indirect object",
                )
                return _Prepared(f, FieldKind.UNKNOWN, None, j, sub_filter)
        except Exception as e:
            j.invalid(
                SubIndication.FORMAT_FAILURE, f"the signature dictionary cannot be read: {_msg(e)}"
            )
            return _Prepared(f, FieldKind.UNKNOWN, None, j, None)
        try:
            emb = _EmbeddedSignature(doc.s.reader, f.ref, f.name)  # type: ignore[arg-type]
        except Exception as e:
            j.invalid(
                SubIndication.FORMAT_FAILURE,
                f"the signature value cannot be parsed (not a valid CMS/PKCS#7 object): {_msg(e)}",
            )
            return _Prepared(f, kind, None, j, sub_filter)
        if (
            kind == FieldKind.SIGNATURE
            and emb.signed_data["encap_content_info"]["content_type"].native != "data"
        ):
            j.invalid(
                SubIndication.FORMAT_FAILURE, "a signature must sign data, not another content type"
            )
            return _Prepared(f, kind, None, j, sub_filter)
        if (
            kind == FieldKind.DOCUMENT_TIMESTAMP
            and emb.signed_data["encap_content_info"]["content_type"].native != "tst_info"
        ):
            j.invalid(
                SubIndication.FORMAT_FAILURE, "a document time-stamp must hold a time-stamp token"
            )
            return _Prepared(f, kind, None, j, sub_filter)
        problem = byte_range_problem(emb.byte_range, doc.size)
        if problem is not None:
            j.invalid(SubIndication.FORMAT_FAILURE, problem)
            return _Prepared(f, kind, None, j, sub_filter)
        what = "the signature" if kind == FieldKind.SIGNATURE else "the document time-stamp"
        unsupported = unsupported_digests(emb.signed_data, what)
        if unsupported:
            j.indeterminate(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, *unsupported)
            return _Prepared(f, kind, None, j, sub_filter)
        self._integrity(doc, emb, j)
        return _Prepared(f, kind, emb, j, sub_filter)

    def _integrity(self, doc: _Doc, emb: EmbeddedPdfSignature, j: _Judged) -> None:
        """Digest, coverage and difference analysis, each failure contained."""
        try:
            emb.compute_integrity_info(diff_policy=self.diff_policy, skip_diff=True)
        except SignatureValidationError as e:
            j.invalid(SubIndication.FORMAT_FAILURE, f"the signature cannot be checked: {_msg(e)}")
            return
        except Exception as e:
            j.invalid(
                SubIndication.FORMAT_FAILURE, f"the signed byte range cannot be read: {_msg(e)}"
            )
            return
        if emb.coverage == SignatureCoverageLevel.ENTIRE_REVISION and hybrid_outside_signed_bytes(
            emb
        ):
            j.invalid(
                SubIndication.FORMAT_FAILURE,
                "the hybrid cross-reference stream (/XRefStm) of a signed revision lies "
                "outside the signed bytes",
            )
        try:
            emb.diff_result = emb.evaluate_modifications(self.diff_policy)  # type: ignore[assignment]
        except RecursionError:
            j.invalid(
                SubIndication.FORMAT_FAILURE,
                "the changes after signing are nested too deeply to analyse",
            )
        except Exception as e:
            if doc.s.encrypted and not doc.s.decrypted:
                j.indeterminate(
                    SubIndication.GENERIC,
                    "the changes made after signing cannot be analysed without the "
                    "document's decryption key",
                )
            else:
                j.invalid(
                    SubIndication.FORMAT_FAILURE,
                    f"the changes made after signing could not be analysed: {_msg(e)}",
                )

    def modifications(
        self, doc: _Doc, emb: EmbeddedPdfSignature, j: _Judged
    ) -> ModificationJudgement:
        docmdp_ok = None
        try:
            if emb.coverage is not None:
                docmdp_ok = emb.summarise_integrity_info().get("docmdp_ok")
        except Exception:
            docmdp_ok = None
        turned_on = doc.final_need_appearances and not policy.need_appearances(
            doc.s.reader, emb.signed_revision
        )
        found: list[changes.Change] = []
        before: set[str] | None = None
        if emb.coverage == SignatureCoverageLevel.ENTIRE_REVISION:
            try:
                found = changes.inventory(doc.s.reader, emb.signed_revision)
                before = changes.field_names(doc.s.reader, emb.signed_revision)
            except Exception as e:  # the analysis above already judged what it could
                j.notes.append(f"the changes after signing could not be listed: {_msg(e)}")
        judgement = policy.judge(
            coverage=emb.coverage,
            diff_result=emb.diff_result,
            docmdp_ok=docmdp_ok,
            signed_signature_fields=doc.signed_fields,
            need_appearances_turned_on=turned_on,
            changes=found,
            fields_before=before,
            permission=_safe(lambda: emb.docmdp_level),
        )
        j.notes.extend(judgement.notes)
        if not judgement.ok:
            if emb.coverage is not None and emb.diff_result is None and j.reasons():
                pass  # the analysis already failed and said why
            else:
                j.invalid(SubIndication.FORMAT_FAILURE, *judgement.reasons)
        if (
            emb.coverage is not None
            and emb.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
            and not structure.hole_is_signature_contents(doc.stream, emb.byte_range)
        ):
            j.invalid(
                SubIndication.FORMAT_FAILURE,
                "the gap in the signed byte range holds something other than the signature value",
            )
        return judgement

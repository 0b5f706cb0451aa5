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
from services.signing.verification import policy, structure
from services.signing.verification.findings import _msg
from services.signing.verification.model import FieldKind, SignatureReport
from services.signing.verification.policy import ModificationJudgement
from services.signing.verification.state import _Doc, _Judged, _Prepared
from services.signing.verification.structure import FieldEntry

SIGNATURE_SUBFILTERS = frozenset({"/adbe.pkcs7.detached", "/ETSI.CAdES.detached", "/PBAD.PAdES"})
TIMESTAMP_SUBFILTERS = frozenset({"/ETSI.RFC3161"})


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
    return SignatureReport(
        field_name=p.field.name,
        kind=FieldKind.UNKNOWN,
        verdict=j.verdict() if j.reasons() else Verdict.INDETERMINATE,
        reasons=j.reasons() or ("the signature was not validated",),
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
                j.reasons_invalid.append("the field's value is not a signature dictionary")
                return _Prepared(f, FieldKind.UNKNOWN, None, j, None)
            type_ = sig_obj.raw_get("/Type") if "/Type" in sig_obj else "/Sig"
            sub_filter = str(sig_obj.raw_get("/SubFilter")) if "/SubFilter" in sig_obj else None
            if type_ == "/DocTimeStamp":
                kind, allowed = FieldKind.DOCUMENT_TIMESTAMP, TIMESTAMP_SUBFILTERS
            elif type_ == "/Sig":
                kind, allowed = FieldKind.SIGNATURE, SIGNATURE_SUBFILTERS
            else:
                j.reasons_invalid.append(
                    f"the signature dictionary has an unexpected /Type {type_}"
                )
                return _Prepared(f, FieldKind.UNKNOWN, None, j, sub_filter)
            if sub_filter not in allowed:
                j.reasons_indeterminate.append(
                    f"unsupported signature format (SubFilter {sub_filter}); not validated"
                )
                return _Prepared(f, FieldKind.UNKNOWN, None, j, sub_filter)
            if not isinstance(value, generic.IndirectObject):
                j.reasons_invalid.append("the signature dictionary is not an indirect object")
                return _Prepared(f, FieldKind.UNKNOWN, None, j, sub_filter)
        except Exception as e:
            j.reasons_invalid.append(f"the signature dictionary cannot be read: {_msg(e)}")
            return _Prepared(f, FieldKind.UNKNOWN, None, j, None)
        try:
            emb = EmbeddedPdfSignature(doc.s.reader, f.ref, f.name)  # type: ignore[arg-type]
        except Exception as e:
            j.reasons_invalid.append(
                f"the signature value cannot be parsed (not a valid CMS/PKCS#7 object): {_msg(e)}"
            )
            return _Prepared(f, kind, None, j, sub_filter)
        if (
            kind == FieldKind.SIGNATURE
            and emb.signed_data["encap_content_info"]["content_type"].native != "data"
        ):
            j.reasons_invalid.append("a signature must sign data, not another content type")
            return _Prepared(f, kind, None, j, sub_filter)
        if (
            kind == FieldKind.DOCUMENT_TIMESTAMP
            and emb.signed_data["encap_content_info"]["content_type"].native != "tst_info"
        ):
            j.reasons_invalid.append("a document time-stamp must hold a time-stamp token")
            return _Prepared(f, kind, None, j, sub_filter)
        self._integrity(doc, emb, j)
        return _Prepared(f, kind, emb, j, sub_filter)

    def _integrity(self, doc: _Doc, emb: EmbeddedPdfSignature, j: _Judged) -> None:
        """Digest, coverage and difference analysis, each failure contained."""
        try:
            emb.compute_integrity_info(diff_policy=self.diff_policy, skip_diff=True)
        except SignatureValidationError as e:
            j.reasons_invalid.append(f"the signature cannot be checked: {_msg(e)}")
            return
        except Exception as e:
            j.reasons_invalid.append(f"the signed byte range cannot be read: {_msg(e)}")
            return
        try:
            emb.diff_result = emb.evaluate_modifications(self.diff_policy)  # type: ignore[assignment]
        except RecursionError:
            j.reasons_invalid.append("the changes after signing are nested too deeply to analyse")
        except Exception as e:
            if doc.s.encrypted and not doc.s.decrypted:
                j.reasons_indeterminate.append(
                    "the changes made after signing cannot be analysed without the "
                    "document's decryption key"
                )
            else:
                j.reasons_invalid.append(
                    f"the changes made after signing could not be analysed: {_msg(e)}"
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
        judgement = policy.judge(
            coverage=emb.coverage,
            diff_result=emb.diff_result,
            docmdp_ok=docmdp_ok,
            signed_signature_fields=doc.signed_fields,
            need_appearances_turned_on=turned_on,
        )
        if not judgement.ok:
            if emb.coverage is not None and emb.diff_result is None and j.reasons():
                pass  # the analysis already failed and said why
            else:
                j.reasons_invalid.extend(judgement.reasons)
        if (
            emb.coverage is not None
            and emb.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
            and not structure.hole_is_signature_contents(doc.stream, emb.byte_range)
        ):
            j.reasons_invalid.append(
                "the gap in the signed byte range holds something other than the signature value"
            )
        return judgement

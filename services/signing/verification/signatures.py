"""Signature fields: the signature time-stamp, the time at which the signer is
judged, the CMS signature and the signer's chain, seed values and the PAdES level.

:class:`SignatureChecker` uses the trust configuration (:class:`~.contexts.Contexts`),
the field checks (:class:`~.fields.FieldChecker`) and the time-stamp checks
(:class:`~.timestamps.TimestampChecker`); the document state is passed to each call.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from asn1crypto import x509
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    report_seed_value_validation,
)

from services.signing.algorithm_policy import refusal
from services.signing.verification import revocation
from services.signing.verification.certificates import (
    _guess_chain,
    _path_certs,
    cert_info,
    no_path_reason,
)
from services.signing.verification.contexts import Contexts
from services.signing.verification.fields import FieldChecker
from services.signing.verification.findings import (
    CmsResult,
    _byte_range,
    _coverage,
    _iso,
    _msg,
    _problem_name,
    _report_base,
    _safe,
    _signature_error,
    _trust_text,
    _trusted,
    _ts_info,
    cms_result,
    sub_indication_of,
    unsupported_digests,
)
from services.signing.verification.model import (
    SignatureReport,
    SubIndication,
    TimeSource,
    TimestampInfo,
)
from services.signing.verification.state import _Doc, _Judged, _Prepared
from services.signing.verification.timestamps import TimestampChecker

PADES_SUBFILTERS = frozenset({"/ETSI.CAdES.detached"})
CLOCK_SKEW = timedelta(minutes=5)


class SignatureChecker:
    """Judging signature fields."""

    def __init__(
        self, contexts: Contexts, fields: FieldChecker, timestamps: TimestampChecker
    ) -> None:
        self.contexts = contexts
        self.fields = fields
        self.timestamps = timestamps

    async def signature(self, doc: _Doc, p: _Prepared) -> SignatureReport:
        emb, j, sub_filter = p.emb, p.judged, p.sub_filter
        base = _report_base(p)
        if emb is None:
            return SignatureReport(**j.outcome(), notes=tuple(j.notes), **base)
        judgement = self.fields.modifications(doc, emb, j)
        claimed = _safe(lambda: emb.self_reported_timestamp)
        signer_info = emb.signer_info

        # 1. signature time-stamp (B-T) and content time-stamp
        ts_info: TimestampInfo | None = None
        proven: datetime | None = None
        tst_chain: list[x509.Certificate] = []
        try:
            tsts = list(generic_cms.extract_tst_data_iter(signer_info, signed=False))
        except Exception as e:
            tsts = []
            j.invalid(
                SubIndication.FORMAT_FAILURE, f"the signature time-stamp cannot be read: {_msg(e)}"
            )
        last_tst: CmsResult = {}
        for tst in tsts[:4]:
            unsupported = unsupported_digests(tst, "the signature time-stamp")
            if unsupported:
                j.indeterminate(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, *unsupported)
                continue
            try:
                kw, source = await self.timestamps.validate_tst(
                    doc,
                    tst,
                    generic_cms.message_imprint_checker(signer_info),
                    emb.signed_revision,
                    j,
                )
            except SignatureValidationError as e:
                j.invalid(
                    SubIndication.FORMAT_FAILURE,
                    f"the signature time-stamp is malformed: {_msg(e)}",
                )
                continue
            except Exception as e:
                j.indeterminate(
                    SubIndication.GENERIC,
                    f"the signature time-stamp could not be validated: {_msg(e)}",
                )
                continue
            ts_info, last_tst = _ts_info(kw, source), kw
            tst_chain = _path_certs(kw.get("validation_path"))
            if not (kw["intact"] and kw["valid"]):
                j.invalid(
                    SubIndication.HASH_FAILURE,
                    "the signature time-stamp does not match the signature or its own "
                    "signature is broken",
                )
            elif _trusted(kw):
                proven = kw["timestamp"]
                break
        if ts_info is not None and proven is None and ts_info.intact and ts_info.valid:
            j.indeterminate(
                sub_indication_of(last_tst),
                f"the signature time-stamp is not trusted: {_trust_text(last_tst)}",
            )
        try:
            content_tsts = list(generic_cms.extract_tst_data_iter(signer_info, signed=True))
            for content_tst in content_tsts[:2]:
                unsupported = unsupported_digests(content_tst, "the content time-stamp")
                if unsupported:
                    j.indeterminate(SubIndication.CRYPTO_CONSTRAINTS_FAILURE, *unsupported)
                    continue
                kw, _src = await self.timestamps.validate_tst(
                    doc, content_tst, emb.compute_digest, emb.signed_revision, j
                )
                if not (kw["intact"] and kw["valid"]):
                    j.invalid(
                        SubIndication.HASH_FAILURE,
                        "the content time-stamp does not match the document",
                    )
                elif not _trusted(kw):
                    j.indeterminate(sub_indication_of(kw), "the content time-stamp is not trusted")
                else:
                    j.notes.append(f"content time-stamp: {_iso(kw['timestamp'])}")
        except SignatureValidationError as e:
            j.invalid(
                SubIndication.FORMAT_FAILURE, f"the content time-stamp is malformed: {_msg(e)}"
            )
        except Exception as e:
            j.indeterminate(
                SubIndication.GENERIC, f"the content time-stamp could not be validated: {_msg(e)}"
            )

        # 2. the time at which the signer's certificate is judged
        poe = doc.covering_poe(emb.signed_revision)
        if claimed is not None and claimed.tzinfo is None:
            claimed = claimed.replace(tzinfo=UTC)
        if proven is not None:
            at, source = proven, TimeSource.SIGNATURE_TIMESTAMP
            if claimed is not None and claimed > proven + CLOCK_SKEW:
                j.notes.append("the claimed signing time is later than the signature time-stamp")
        elif (
            claimed is not None
            and self.contexts.trust_claimed_signing_time
            and claimed <= doc.now + CLOCK_SKEW
        ):
            at, source = claimed, TimeSource.CLAIMED
            if poe is not None and claimed > poe + CLOCK_SKEW:
                j.indeterminate(
                    SubIndication.TIMESTAMP_ORDER_FAILURE,
                    "the claimed signing time is later than a document time-stamp that "
                    "proves the signature already existed",
                )
        elif poe is not None:
            at, source = poe, TimeSource.DOCUMENT_TIMESTAMP
        else:
            at, source = doc.now, TimeSource.NOW
        if claimed is not None and claimed > doc.now + CLOCK_SKEW:
            j.indeterminate(
                SubIndication.SIG_CONSTRAINTS_FAILURE, "the claimed signing time lies in the future"
            )

        # 3. the CMS signature itself and the signer's chain at that time
        kw2: CmsResult = {}
        chain: list[x509.Certificate] = []
        point_in_time = source != TimeSource.NOW or doc.explicit_now
        try:
            proof = proven or poe
            kw2 = await self._cms(doc, emb, at if point_in_time else None, proven=proof)
            if (
                kw2.get("trust_problem_indic") == AdESIndeterminate.TRY_LATER
                and self.contexts.revocation_mode == "soft-fail"
            ):
                again = await self._cms(
                    doc, emb, at if point_in_time else None, revinfo=False, proven=proof
                )
                if _trusted(again):
                    kw2 = again
                    j.notes.append(
                        "the embedded revocation data is too old for the validation time; "
                        "the signer's revocation status at that time is unknown"
                    )
        except SignatureValidationError as e:
            _signature_error(j, e)
        except Exception as e:
            j.indeterminate(
                SubIndication.GENERIC, f"the signature could not be validated: {_msg(e)}"
            )
        if kw2:
            chain = _path_certs(kw2.get("validation_path"))
            self._judge_signer(doc, kw2, j, at, source, chain, emb=emb, proof=proof)
            validation_path = kw2.get("validation_path")
            if validation_path is not None:
                try:
                    sv = report_seed_value_validation(emb, validation_path, proven is not None)
                    if sv.get("seed_value_constraint_error") is not None:
                        j.indeterminate(
                            SubIndication.SIG_CONSTRAINTS_FAILURE,
                            "the signature violates its field's seed value constraints: "
                            f"{sv['seed_value_constraint_error']}",
                        )
                except Exception as e:
                    j.indeterminate(
                        SubIndication.SIG_CONSTRAINTS_FAILURE,
                        f"the field's seed value constraints could not be checked: {_msg(e)}",
                    )
        signer = kw2.get("signing_cert") or _safe(lambda: emb.signer_cert)
        built = bool(chain) and kw2.get("validation_path") is not None
        if not chain and signer is not None:
            chain = _guess_chain(
                signer,
                itertools.chain(
                    _safe(lambda: emb.other_embedded_certs) or (),
                    doc.pool.certs,
                    self.contexts.other_certs,
                ),
            )

        path_problem: str | None = None
        if not kw2:
            path_problem = "no chain was built: the signature could not be validated"
        elif not (kw2.get("intact") and kw2.get("valid")):
            path_problem = "the signature itself does not verify; its chain does not matter"
        elif built and not _trusted(kw2):
            path_problem = f"a chain was built but not accepted: {_trust_text(kw2)}"
        elif not built:
            indic = kw2.get("trust_problem_indic")
            path_problem = no_path_reason(
                chain,
                self.contexts.trust_roots,
                _trust_text(kw2) if indic is not None else None,
            )

        certification = None
        try:
            perm = emb.docmdp_level
            if perm is not None:
                certification = perm.name
        except Exception:
            pass

        report = SignatureReport(
            **j.outcome(),
            notes=tuple(j.notes),
            revision=emb.signed_revision,
            byte_range=_byte_range(emb),
            intact=kw2.get("intact"),
            crypto_valid=kw2.get("valid"),
            digest_algorithm=kw2.get("md_algorithm") or _safe(lambda: emb.md_algorithm),
            signature_mechanism=kw2.get("pkcs7_signature_mechanism"),
            signer=cert_info(signer) if signer is not None else None,
            chain=tuple(cert_info(c) for c in chain),
            trusted=_trusted(kw2) if kw2 else None,
            trust_anchor=chain[-1].subject.human_friendly
            if kw2.get("validation_path") is not None and chain
            else None,
            trust_problem=_problem_name(kw2.get("trust_problem_indic")) if kw2 else None,
            trust_path=tuple(c.subject.human_friendly for c in chain) if built else (),
            trust_path_problem=path_problem,
            revocation=self.contexts.revocation(doc, chain if kw2.get("validation_path") else []),
            signing_time=_iso(claimed),
            validation_time=_iso(at),
            validation_time_source=source,
            timestamp=ts_info,
            pades_level=self._pades_level(doc, emb, sub_filter, proven, chain, kw2, tst_chain),
            coverage=_coverage(emb.coverage),
            coverage_detail=emb.coverage.name if emb.coverage is not None else None,
            modification_level=judgement.level,
            suspicious_modification=judgement.suspicious,
            changed_form_fields=judgement.changed_fields,
            changes=tuple(judgement.changes),
            certification=certification,
            **base,
        )
        return report

    async def _cms(
        self,
        doc: _Doc,
        emb: EmbeddedPdfSignature,
        moment: datetime | None,
        revinfo: bool = True,
        proven: datetime | None = None,
    ) -> CmsResult:
        vc = self.contexts.validation_context(doc, moment, revinfo=revinfo, proven=proven)
        kw = await generic_cms.cms_basic_validation(
            emb.signed_data,
            raw_digest=emb.compute_digest(),
            validation_context=vc,
            key_usage_settings=self.contexts.key_usage,
        )
        self.contexts.absorb(doc, vc)
        return cms_result(kw)

    def _judge_signer(
        self,
        doc: _Doc,
        kw: CmsResult,
        j: _Judged,
        at: datetime,
        source: TimeSource,
        chain: list[x509.Certificate],
        *,
        emb: EmbeddedPdfSignature,
        proof: datetime | None,
    ) -> None:
        if not kw.get("intact"):
            j.invalid(
                SubIndication.HASH_FAILURE,
                "the signed bytes of the document were changed (digest mismatch)",
            )
            return
        if not kw.get("valid"):
            j.invalid(
                SubIndication.SIG_CRYPTO_FAILURE,
                "the signature value does not verify with the signer's certificate",
            )
            return
        indic = kw.get("trust_problem_indic")
        path = kw.get("validation_path")
        revo = kw.get("revocation_details")
        when = {
            TimeSource.SIGNATURE_TIMESTAMP: "the time-stamped signing time",
            TimeSource.DOCUMENT_TIMESTAMP: "the time of a document time-stamp",
            TimeSource.CLAIMED: "the signing time claimed by the signer",
            TimeSource.NOW: "the verification time",
        }[source]
        if revo is not None:
            what = (
                "a CA certificate of the chain" if revo.ca_revoked else "the signer's certificate"
            )
            text = (
                f"{what} was revoked on {revo.revocation_date.isoformat()} "
                f"(reason: {revo.revocation_reason.native}), before {when} {at.isoformat()}"
            )
            if source == TimeSource.NOW:
                sub = (
                    SubIndication.REVOKED_CA_NO_POE
                    if revo.ca_revoked
                    else SubIndication.REVOKED_NO_POE
                )
                j.indeterminate(sub, text.replace(", before", "; checked at"))
            else:
                j.invalid(SubIndication.REVOKED, text)
            return
        if indic is not None:
            if indic in (
                AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
                AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
            ):
                self._judge_algorithms(doc, kw, j, emb, proof)
                return
            if isinstance(indic, AdESFailure):
                j.invalid(sub_indication_of(kw), _trust_text(kw))
                return
            j.indeterminate(
                sub_indication_of(kw),
                f"the signer's certificate is not trusted at {when} ({at.isoformat()}): "
                + _trust_text(kw),
            )
            return
        if path is None:
            j.indeterminate(
                SubIndication.NO_CERTIFICATE_CHAIN_FOUND, "no trusted certificate path was found"
            )
            return
        # trusted at `at`; a revocation after `at` matters only when `at` is unproven
        for cert in chain[:-1]:
            revoked = revocation.revoked_at(cert, doc.pool)
            if revoked is None:
                continue
            if revoked < at:  # certvalidator judged differently (e.g. unverifiable CRL)
                j.indeterminate(
                    SubIndication.REVOKED_NO_POE,
                    f"revocation data lists {cert.subject.human_friendly} as revoked on "
                    f"{revoked.isoformat()}",
                )
            elif source in (TimeSource.CLAIMED, TimeSource.NOW):
                j.indeterminate(
                    SubIndication.REVOKED_NO_POE,
                    f"{cert.subject.human_friendly} was revoked on {revoked.isoformat()}, "
                    "after the claimed signing time, and no time-stamp proves the signature "
                    "was made before",
                )
            else:
                j.notes.append(
                    f"{cert.subject.human_friendly} was revoked on {revoked.isoformat()}, "
                    "after the proven signing time; the signature is not affected"
                )
        if source == TimeSource.CLAIMED:
            j.notes.append(
                "the certificate was checked at the signing time claimed by the signer; "
                "no time-stamp proves it"
            )

    def _judge_algorithms(
        self,
        doc: _Doc,
        kw: CmsResult,
        j: _Judged,
        emb: EmbeddedPdfSignature,
        proof: datetime | None,
    ) -> None:
        """An algorithm the policy refuses: never TOTAL-FAILED (ETSI EN 319 102-1)."""
        cert = kw.get("signing_cert")
        why = _safe(
            lambda: refusal(
                self.contexts.algorithm_policy,
                emb.signer_info,
                cert.public_key if cert is not None else None,
                proof or doc.now,
            )
        )
        horizon = kw.get("error_time_horizon")
        if why is None and horizon is None and kw.get("validation_path") is None:
            # The policy accepts each algorithm; pyHanko refused their combination (a
            # digest the signature mechanism rules out, e.g. Ed448 without SHAKE256).
            j.invalid(
                SubIndication.FORMAT_FAILURE,
                "the signature's digest algorithm does not match its signature mechanism",
            )
            return
        what = why or "an algorithm of the signature or of its certificate chain is not accepted"
        if horizon is None:
            j.indeterminate(
                SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                f"the algorithm policy does not accept this signature: {what}",
            )
            return
        at = f" at the time proven by a time-stamp ({proof.isoformat()})" if proof else ""
        j.indeterminate(
            SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
            f"the algorithm policy does not accept this signature{at}: {what}; no "
            f"time-stamp proves the signature existed by {horizon.date().isoformat()}",
        )

    def _pades_level(
        self,
        doc: _Doc,
        emb: EmbeddedPdfSignature,
        sub_filter: str | None,
        proven: datetime | None,
        chain: list[x509.Certificate],
        kw: CmsResult,
        tst_chain: list[x509.Certificate],
    ) -> str | None:
        if sub_filter not in PADES_SUBFILTERS:
            return None
        covering = [(rev, t) for rev, t in doc.poe if rev > emb.signed_revision]
        if proven is None and not covering:
            return "B-B"
        if kw.get("validation_path") is None or (
            not doc.pool.has_dss
            and not any(src == "cms" for _c, src in doc.pool.crls)
            and not any(src == "cms" for _o, src in doc.pool.ocsps)
        ):
            return "B-T"
        needed = chain[:-1] + tst_chain[:-1]
        if not all(revocation.has_revinfo(c, doc.pool, {"dss", "cms"}) for c in needed):
            return "B-T"
        reader = doc.s.reader
        for rev, _t in covering:
            try:
                if "/DSS" in reader.get_historical_resolver(rev).root:
                    return "B-LTA"
            except Exception:
                continue
        return "B-LT"

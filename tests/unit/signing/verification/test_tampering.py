"""Documents signed here with pyHanko, then tampered with (or legitimately extended)."""

from __future__ import annotations

import io

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.common.contract import Verdict
from services.signing.verification import FieldKind, Verifier
from testkit.pdfs import write_pdf
from tests.unit.signing.verification import helpers as h
from tests.unit.signing.verification.helpers import ThrowawayPki


def _sig(report, name: str = "Sig1"):  # type: ignore[no-untyped-def]
    return next(s for s in report.signatures if s.field_name == name)


def test_untouched_b_t_is_valid(verifier: Verifier, signed_bt: bytes) -> None:
    report = verifier.verify(signed_bt)
    assert report.verdict == Verdict.VALID, report.reasons
    sig = _sig(report)
    assert sig.verdict == Verdict.VALID
    assert sig.pades_level == "B-T"
    assert sig.coverage == "entire_file"
    assert sig.modification_level == "NONE"
    assert sig.trusted and sig.intact and sig.crypto_valid
    assert sig.timestamp is not None and sig.timestamp.trusted
    assert sig.validation_time_source == "signature_timestamp"
    assert sig.signer is not None and "Nguyễn Văn A" in sig.signer.subject
    assert "Liên Thông Test Root" in sig.chain[-1].subject
    assert sig.revocation[0].status == "unknown"  # nothing embedded, nothing fetched
    assert sig.revocation[-1].status == "not_checked"


def test_untrusted_is_indeterminate(signed_bt: bytes) -> None:
    report = Verifier([]).verify(signed_bt)
    assert report.verdict == Verdict.INDETERMINATE
    assert _sig(report).trust_problem == "NO_CERTIFICATE_CHAIN_FOUND"
    assert _sig(report).intact is True


def test_a_one_byte_changed_inside_the_signed_range_is_invalid(
    verifier: Verifier, signed_bt: bytes
) -> None:
    report = verifier.verify(h.flip_byte(signed_bt, b"Hello, Lien Thong"))
    assert report.verdict == Verdict.INVALID
    assert _sig(report).intact is False
    assert any("digest mismatch" in r for r in _sig(report).reasons)


def test_b_an_update_changing_page_content_is_invalid(verifier: Verifier, signed_bt: bytes) -> None:
    report = verifier.verify(h.change_page_content(signed_bt))
    assert report.verdict == Verdict.INVALID
    sig = _sig(report)
    assert sig.intact is True  # the signed revision itself is intact ...
    assert sig.coverage == "entire_revision"
    assert sig.modification_level == "OTHER"  # ... but what follows is not allowed


def test_c1_an_overlaid_text_field_is_invalid(verifier: Verifier, signed_bt: bytes) -> None:
    report = verifier.verify(h.add_text_field(signed_bt))
    assert report.verdict == Verdict.INVALID
    assert _sig(report).modification_level == "OTHER"


def test_c2_an_overlaid_annotation_is_invalid(verifier: Verifier, signed_bt: bytes) -> None:
    report = verifier.verify(h.add_annotation(signed_bt))
    assert report.verdict == Verdict.INVALID


def test_c3_a_new_visible_empty_signature_field_is_invalid(
    verifier: Verifier, signed_bt: bytes, pki: ThrowawayPki
) -> None:
    """pyHanko accepts this (FORM_FILLING, docmdp ok): an unsigned signature field may
    carry any appearance stream, drawn over the signed page. We do not."""
    tampered = h.add_empty_signature_field(signed_bt)
    plain = validate_pdf_signature(
        PdfFileReader(io.BytesIO(tampered)).embedded_signatures[0],
        ValidationContext(trust_roots=[pki.root.asn1]),
    )
    assert plain.modification_level == ModificationLevel.FORM_FILLING
    assert plain.bottom_line  # plain pyHanko calls it fine
    report = verifier.verify(tampered)
    assert report.verdict == Verdict.INVALID
    sig = _sig(report)
    assert sig.changed_form_fields == ("Overlay",)
    assert any("holds no signature was added after signing: Overlay" in r for r in sig.reasons)
    overlay = _sig(report, "Overlay")
    assert overlay.kind == FieldKind.EMPTY and overlay.verdict == Verdict.UNSIGNED


def test_need_appearances_switched_on_after_signing_is_invalid(
    verifier: Verifier, signed_bt: bytes
) -> None:
    report = verifier.verify(h.set_need_appearances(signed_bt))
    assert report.verdict == Verdict.INVALID
    assert any("NeedAppearances" in r for r in _sig(report).reasons)


def test_objects_appended_without_a_cross_reference_table_are_invalid(
    verifier: Verifier, signed_bt: bytes
) -> None:
    """Objects after %%EOF are ignored by pyHanko but picked up by repairing viewers."""
    last_xref = signed_bt[signed_bt.rindex(b"startxref") + 9 :].split()[0]
    appended = signed_bt + (
        b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
        b"startxref\n" + last_xref + b"\n%%EOF\n"
    )
    report = verifier.verify(appended)
    assert report.verdict == Verdict.INVALID
    assert any("end of the file" in r for r in report.reasons)
    garbage = verifier.verify(signed_bt + b"\n% trailing comment that is not whitespace\n")
    assert garbage.verdict == Verdict.INVALID


def test_trailing_whitespace_is_fine(verifier: Verifier, signed_bt: bytes) -> None:
    assert verifier.verify(signed_bt + b"\r\n\x00\n").verdict == Verdict.VALID


def test_d_a_second_signature_keeps_both_valid(
    verifier: Verifier, signed_bt: bytes, pki: ThrowawayPki
) -> None:
    twice = h.sign(signed_bt, pki, field="Sig2", timestamp=True, box=(50, 50, 250, 100))
    report = verifier.verify(twice)
    assert report.verdict == Verdict.VALID, report.reasons
    first, second = _sig(report, "Sig1"), _sig(report, "Sig2")
    assert first.verdict == second.verdict == Verdict.VALID
    assert first.modification_level == "FORM_FILLING"
    assert first.changed_form_fields == ("Sig2",)
    assert second.coverage == "entire_file" and second.visible is True


def test_e_validation_data_and_a_document_timestamp_keep_it_valid(
    verifier: Verifier, signed_bt: bytes, pki: ThrowawayPki
) -> None:
    lt = h.add_dss(signed_bt, pki, [pki.crl()])
    report = verifier.verify(lt)
    assert report.verdict == Verdict.VALID, report.reasons
    sig = _sig(report)
    assert sig.modification_level == "LTA_UPDATES"
    assert sig.pades_level == "B-LT"
    assert sig.revocation[0].status == "good" and sig.revocation[0].source == "dss"

    lta = h.add_document_timestamp(lt, pki)
    report = verifier.verify(lta)
    assert report.verdict == Verdict.VALID, report.reasons
    assert _sig(report).pades_level == "B-LTA"
    (dts,) = report.document_timestamps
    assert dts.kind == FieldKind.DOCUMENT_TIMESTAMP and dts.verdict == Verdict.VALID
    assert dts.timestamp is not None and dts.timestamp.tsa is not None


def test_a_document_timestamp_alone_on_a_b_b_signature(
    verifier: Verifier, signed_bb: bytes, pki: ThrowawayPki
) -> None:
    report = verifier.verify(h.add_document_timestamp(signed_bb, pki))
    assert report.verdict == Verdict.VALID, report.reasons
    assert _sig(report).pades_level == "B-T"  # a later document time-stamp gives B-T


def test_certification_allowing_form_filling_then_a_second_signature(
    verifier: Verifier, pki: ThrowawayPki
) -> None:
    certified = h.sign(h.minimal_pdf(), pki, certify=True, timestamp=True)
    report = verifier.verify(certified)
    assert report.verdict == Verdict.VALID
    assert _sig(report).certification == "NO_CHANGES"
    # NO_CHANGES still allows validation data and document time-stamps
    extended = h.add_document_timestamp(h.add_dss(certified, pki, [pki.crl()]), pki)
    assert verifier.verify(extended).verdict == Verdict.VALID
    # but not a new (visible) field
    assert verifier.verify(h.add_empty_signature_field(certified)).verdict == Verdict.INVALID


def test_an_unsupported_subfilter_is_not_silently_skipped(
    verifier: Verifier, signed_bt: bytes
) -> None:
    """pyHanko's ``embedded_signatures`` drops signatures with an unknown SubFilter, so
    the document would look unsigned. Here it is reported and not valid."""
    odd = signed_bt.replace(b"/ETSI.CAdES.detached", b"/ETSI.CAdES.detachex")
    assert PdfFileReader(io.BytesIO(odd)).embedded_signatures == []
    report = verifier.verify(odd)
    assert report.verdict == Verdict.INDETERMINATE
    sig = _sig(report)
    assert sig.kind == FieldKind.UNKNOWN
    assert any("unsupported" in r for r in sig.reasons)


def test_legacy_pkcs7_signature_is_valid_but_not_pades(
    verifier: Verifier, pki: ThrowawayPki
) -> None:
    from pyhanko.sign.fields import SigSeedSubFilter

    signed = h.sign(h.minimal_pdf(), pki, subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED)
    report = verifier.verify(signed)
    assert report.verdict == Verdict.VALID
    assert _sig(report).pades_level is None
    assert _sig(report).sub_filter == "/adbe.pkcs7.detached"


def test_an_empty_signature_field_alone_is_unsigned(verifier: Verifier) -> None:
    report = verifier.verify(h.add_empty_signature_field(h.minimal_pdf()))
    assert report.verdict == Verdict.UNSIGNED
    assert report.signatures[0].kind == FieldKind.EMPTY


def test_garbage_is_unreadable(verifier: Verifier) -> None:
    report = verifier.verify(b"not a pdf at all")
    assert report.verdict == Verdict.UNREADABLE
    assert report.exit_code == 4
    assert verifier.verify(b"").verdict == Verdict.UNREADABLE


def test_truncated_signed_file_is_not_valid(verifier: Verifier, signed_bt: bytes) -> None:
    for cut in (len(signed_bt) // 2, len(signed_bt) - 30, 200):
        report = verifier.verify(signed_bt[:cut])
        assert report.verdict in (Verdict.UNREADABLE, Verdict.INVALID), (cut, report.reasons)


def test_deep_page_tree_gives_a_clear_verdict(verifier: Verifier) -> None:
    depth = 200
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for i in range(depth):
        objs.append(f"<< /Type /Pages /Kids [{3 + i} 0 R] /Count 1 >>".encode())
    objs.append(b"<< /Type /Page /MediaBox [0 0 10 10] >>")
    report = verifier.verify(write_pdf(objs))
    assert report.verdict == Verdict.UNREADABLE
    assert any("nested too deeply" in r for r in report.reasons)


def test_a_signature_cut_off_from_the_form_is_not_reported_as_unsigned(
    verifier: Verifier, signed_bt: bytes
) -> None:
    """Renaming /AcroForm hides the field from pyHanko (which then sees no signature);
    the signature value is still in the file, so the verdict must not be 'unsigned'."""
    hidden = signed_bt.replace(b"/AcroForm", b"/AcroForX")
    assert PdfFileReader(io.BytesIO(hidden)).embedded_signatures == []
    report = verifier.verify(hidden)
    assert report.verdict == Verdict.INDETERMINATE, report.reasons
    assert any("signature" in r for r in report.reasons)

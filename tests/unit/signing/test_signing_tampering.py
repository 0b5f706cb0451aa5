"""Tampering with what we sign: the letter with the leader's signature and the seal at
B-LT (the default for issued documents), changed three ways after signing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from services.common.contract import Verdict
from services.signing.appearance import Profile
from services.signing.pades import Level
from services.signing.pdfinfo import signature_widgets
from services.signing.verification import VerificationReport
from tests.unit.signing.kit import SigningKit


@pytest.fixture(scope="module")
def issued(kit: SigningKit) -> bytes:
    personal, _ = kit.sign(kit.letter(), Profile.PERSONAL, Level.B_LT)
    sealed, _ = kit.sign(personal, Profile.ORGANIZATION, Level.B_LT)
    return sealed.read_bytes()


def _verify(kit: SigningKit, pdf: bytes) -> VerificationReport:
    return kit.verifier().verify(pdf)


def _write(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_as_issued_it_is_valid(kit: SigningKit, issued: bytes) -> None:
    report = _verify(kit, issued)
    assert report.verdict == Verdict.VALID, report.reasons
    assert [s.pades_level for s in report.signatures] == ["B-LT", "B-LT"]


def test_one_byte_changed_inside_the_signed_range(kit: SigningKit, issued: bytes) -> None:
    """The page's MediaBox, 841.8898 pt high, becomes 841.8899: in both signed ranges."""
    position = issued.index(b"841.8898") + 7
    report = _verify(kit, issued[:position] + b"9" + issued[position + 1 :])
    for signature in report.signatures:
        assert signature.byte_range is not None
        start, length = signature.byte_range[0], signature.byte_range[1]
        assert start <= position < start + length  # the change is inside what it signed
        assert signature.intact is False
        assert signature.verdict == Verdict.INVALID
    assert report.verdict == Verdict.INVALID


def test_an_update_changing_the_page_content(kit: SigningKit, issued: bytes) -> None:
    """White paint over the signer's name and a new amount, appended as an update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(issued))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    extra = writer.add_object(
        generic.StreamObject(
            stream_data=b"q 1 1 1 rg 380 180 130 25 re f Q "
            b"BT /F1 14 Tf 85 560 Td (So tien: 1 000 000 000 dong) Tj ET"
        )
    )
    page[pdf_name("/Contents")] = generic.ArrayObject([page.raw_get("/Contents"), extra])
    writer.update_container(page)
    report = _verify(kit, _write(writer))
    assert report.verdict == Verdict.INVALID
    for signature in report.signatures:
        assert signature.intact is True  # what they signed is untouched ...
        assert signature.modification_level == "OTHER"  # ... what came after is not allowed
        assert signature.verdict == Verdict.INVALID


def test_a_form_field_laid_over_the_seal(kit: SigningKit, issued: bytes) -> None:
    """A new text field whose white appearance hides the seal and the signature."""
    _pages, widgets = signature_widgets(_path(kit, issued))
    seal = next(w.box for w in widgets if w.field_name == "organization-2")
    writer = IncrementalPdfFileWriter(io.BytesIO(issued))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    width, height = seal.width + 200, seal.height
    appearance = generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Form"),
            pdf_name("/BBox"): generic.ArrayObject(
                [generic.FloatObject(v) for v in (0, 0, width, height)]
            ),
        },
        stream_data=f"1 1 1 rg 0 0 {width:.2f} {height:.2f} re f".encode(),
    )
    field = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/FT"): pdf_name("/Tx"),
                pdf_name("/T"): generic.TextStringObject("Overlay"),
                pdf_name("/V"): generic.TextStringObject(""),
                pdf_name("/F"): generic.NumberObject(4),
                pdf_name("/Rect"): generic.ArrayObject(
                    [
                        generic.FloatObject(v)
                        for v in (seal.x1, seal.y1, seal.x1 + width, seal.y1 + height)
                    ]
                ),
                pdf_name("/P"): page_ref,
                pdf_name("/AP"): generic.DictionaryObject(
                    {pdf_name("/N"): writer.add_object(appearance)}
                ),
            }
        )
    )
    form = writer.root["/AcroForm"]
    form["/Fields"].append(field)
    writer.update_container(form["/Fields"])
    writer.update_container(form)
    page["/Annots"].append(field)
    writer.update_container(page["/Annots"])
    writer.update_container(page)
    report = _verify(kit, _write(writer))
    assert report.verdict == Verdict.INVALID
    personal, organization = (s for s in report.signatures if s.field_name != "Overlay")
    for signature in (personal, organization):
        assert signature.verdict == Verdict.INVALID
        assert signature.modification_level == "OTHER"
        assert "Overlay" in (signature.suspicious_modification or "")
        assert any("modified after signing" in reason for reason in signature.reasons)


def _path(kit: SigningKit, pdf: bytes) -> Path:
    path = kit.workdir / "issued-for-tampering.pdf"
    path.write_bytes(pdf)
    return path

"""Generators for the classes of real-world signed PDFs a fair verifier must judge:
foreign and broken PKI, legacy algorithms, DocMDP certifications with later changes,
and the benign changes later revisions carry (comments, structure trees, named
destinations, form filling). Everything is made here with pyHanko and cryptography."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.unit.signing.verification.helpers import (
    NOW,
    Issued,
    ThrowawayPki,
    _name,
    key_to_asn1,
)

_USAGE = dict(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def issue(
    pki: ThrowawayPki,
    cn: str,
    *,
    key_size: int = 2048,
    usage: dict[str, bool] | None = None,
    extended: list[x509.ObjectIdentifier] | None = None,
    not_before: datetime | None = None,
) -> Issued:
    """A certificate from ``pki``'s root with the given key size and key usage."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    ku = dict(
        _USAGE,
        **(usage if usage is not None else {"digital_signature": True, "content_commitment": True}),
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(pki.root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**ku), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.root.key.public_key()),
            critical=False,
        )
    )
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=True)
    return Issued(builder.sign(pki.root.key, hashes.SHA256()), key)


def sign_with(
    pdf: bytes,
    pki: ThrowawayPki,
    who: Issued,
    *,
    field: str = "Sig1",
    md: str = "sha256",
    pss: bool = False,
    timestamp_at: datetime | None = None,
    timestamp: bool = False,
    certify: fields.MDPPerm | None = None,
    claimed_at: datetime | None = None,
) -> bytes:
    """Sign with any certificate, digest and padding; optionally time-stamped (at a
    fixed time) or certifying with a DocMDP permission."""
    signer = signers.SimpleSigner(
        signing_cert=who.asn1,
        signing_key=key_to_asn1(who.key),
        cert_registry=SimpleCertificateStore.from_certs([pki.root.asn1]),
        prefer_pss=pss,
    )
    stamper = None
    if timestamp or timestamp_at is not None:
        stamper = pki.timestamper()
        stamper.fixed_dt = timestamp_at
        stamper.override_md = "sha256"  # the TSA's own signature stays strong
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm=md,
        certify=certify is not None,
        docmdp_permissions=certify or fields.MDPPerm.FILL_FORMS,
    )
    out = io.BytesIO()
    pdf_signer = (
        signers.PdfSigner(meta, signer=signer, timestamper=stamper)
        if claimed_at is None
        else _BackdatedSigner(meta, signer=signer, timestamper=stamper, claimed_at=claimed_at)
    )
    pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


class _BackdatedSigner(signers.PdfSigner):
    """A signer whose clock says ``claimed_at``: the signing time it writes is a claim
    nothing proves (what a back-dating signer does)."""

    def __init__(self, *args: Any, claimed_at: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claimed_at = claimed_at

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._claimed_at
        return session


# ---------------------------------------------------------------- later revisions


def _rect(*numbers: float) -> generic.ArrayObject:
    return generic.ArrayObject(generic.FloatObject(n) for n in numbers)


def _write(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_comment(
    pdf: bytes,
    *,
    subtype: str = "/Text",
    hidden: bool = False,
    rect: tuple[float, float, float, float] = (500, 780, 520, 800),
    appearance: bytes | None = None,
    blend: str | None = None,
) -> bytes:
    """A reviewer's annotation with a popup, as Acrobat adds them. Without
    ``appearance`` the viewer draws its standard icon or mark; with it, that content
    stream is the annotation's normal appearance (``blend``: the blend mode of the
    graphics state /GS0 it may select, as highlights use /Multiply)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    annot = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name(subtype),
            generic.pdf_name("/Rect"): _rect(*rect),
            generic.pdf_name("/Contents"): generic.TextStringObject("Đã xem, đồng ý."),
            generic.pdf_name("/T"): generic.TextStringObject("Chuyên viên"),
            generic.pdf_name("/F"): generic.NumberObject(2 if hidden else 4),
            generic.pdf_name("/P"): page_ref,
        }
    )
    if subtype in ("/Highlight", "/Underline", "/Squiggly"):
        annot[generic.pdf_name("/QuadPoints")] = _rect(72, 740, 300, 740, 72, 715, 300, 715)
    if appearance is not None:
        resources = generic.DictionaryObject(
            {
                generic.pdf_name("/Font"): generic.DictionaryObject(
                    {
                        generic.pdf_name("/Helv"): generic.DictionaryObject(
                            {
                                generic.pdf_name("/Type"): generic.pdf_name("/Font"),
                                generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
                                generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
                            }
                        )
                    }
                )
            }
        )
        if blend is not None:
            resources[generic.pdf_name("/ExtGState")] = generic.DictionaryObject(
                {
                    generic.pdf_name("/GS0"): generic.DictionaryObject(
                        {generic.pdf_name("/BM"): generic.pdf_name(blend)}
                    )
                }
            )
        width, height = rect[2] - rect[0], rect[3] - rect[1]
        stream = generic.StreamObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
                generic.pdf_name("/BBox"): _rect(0, 0, width, height),
                generic.pdf_name("/Resources"): resources,
            },
            stream_data=appearance,
        )
        annot[generic.pdf_name("/AP")] = generic.DictionaryObject(
            {generic.pdf_name("/N"): writer.add_object(stream)}
        )
    annot_ref = writer.add_object(annot)
    popup = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Popup"),
            generic.pdf_name("/Rect"): _rect(520, 700, 590, 780),
            generic.pdf_name("/Parent"): annot_ref,
        }
    )
    popup_ref = writer.add_object(popup)
    annot[generic.pdf_name("/Popup")] = popup_ref
    annots = page.get("/Annots", generic.ArrayObject())
    annots = generic.ArrayObject([*annots, annot_ref, popup_ref])
    page[generic.pdf_name("/Annots")] = annots
    writer.update_container(page)
    return _write(writer)


def add_structure_tree(pdf: bytes) -> bytes:
    """Tagging added for accessibility: a structure tree with one paragraph element
    pointing at the page, and /MarkInfo, as an accessibility fixer writes them."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    root = writer.root
    tree = generic.DictionaryObject(
        {generic.pdf_name("/Type"): generic.pdf_name("/StructTreeRoot")}
    )
    tree_ref = writer.add_object(tree)
    para = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/StructElem"),
            generic.pdf_name("/S"): generic.pdf_name("/P"),
            generic.pdf_name("/P"): tree_ref,
            generic.pdf_name("/Pg"): page_ref,
            generic.pdf_name("/K"): generic.NumberObject(0),
        }
    )
    para_ref = writer.add_object(para)
    tree[generic.pdf_name("/K")] = generic.ArrayObject([para_ref])
    parent_tree = generic.DictionaryObject(
        {
            generic.pdf_name("/Nums"): generic.ArrayObject(
                [generic.NumberObject(0), generic.ArrayObject([para_ref])]
            )
        }
    )
    tree[generic.pdf_name("/ParentTree")] = writer.add_object(parent_tree)
    root[generic.pdf_name("/StructTreeRoot")] = tree_ref
    root[generic.pdf_name("/MarkInfo")] = generic.DictionaryObject(
        {generic.pdf_name("/Marked"): generic.BooleanObject(True)}
    )
    writer.update_root()
    return _write(writer)


def add_names(pdf: bytes, *, category: str = "/Dests") -> bytes:
    """A name tree added to the catalog: named destinations (benign) or, with
    ``category="/JavaScript"``, a document-level script (not)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    if category == "/JavaScript":
        value: generic.PdfObject = writer.add_object(
            generic.DictionaryObject(
                {
                    generic.pdf_name("/S"): generic.pdf_name("/JavaScript"),
                    generic.pdf_name("/JS"): generic.TextStringObject("app.alert('x');"),
                }
            )
        )
    else:
        value = generic.ArrayObject([page_ref, generic.pdf_name("/Fit")])
    tree = generic.DictionaryObject(
        {generic.pdf_name("/Names"): generic.ArrayObject([generic.TextStringObject("muc1"), value])}
    )
    names = generic.DictionaryObject({generic.pdf_name(category): writer.add_object(tree)})
    writer.root[generic.pdf_name("/Names")] = writer.add_object(names)
    writer.update_root()
    return _write(writer)


def with_text_field(pdf: bytes, name: str = "SoVanBan") -> bytes:
    """An unsigned PDF with an empty text field (before any signature)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    field = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Widget"),
            generic.pdf_name("/FT"): generic.pdf_name("/Tx"),
            generic.pdf_name("/T"): generic.TextStringObject(name),
            generic.pdf_name("/Rect"): _rect(72, 600, 272, 620),
            generic.pdf_name("/P"): page_ref,
            generic.pdf_name("/F"): generic.NumberObject(4),
            generic.pdf_name("/DA"): generic.TextStringObject("/Helv 10 Tf 0 g"),
        }
    )
    field_ref = writer.add_object(field)
    page[generic.pdf_name("/Annots")] = generic.ArrayObject([field_ref])
    writer.update_container(page)
    writer.root[generic.pdf_name("/AcroForm")] = generic.DictionaryObject(
        {
            generic.pdf_name("/Fields"): generic.ArrayObject([field_ref]),
            generic.pdf_name("/DR"): generic.DictionaryObject(),
        }
    )
    writer.update_root()
    return _write(writer)


def fill_text_field(pdf: bytes, name: str = "SoVanBan", value: str = "123/UBND-VP") -> bytes:
    """Fill an existing text field, with a new appearance stream, as a viewer does."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for ref in writer.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        if str(field.get("/T")) != name:
            continue
        field[generic.pdf_name("/V")] = generic.TextStringObject(value)
        ap = generic.StreamObject(
            {
                generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
                generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
                generic.pdf_name("/BBox"): _rect(0, 0, 200, 20),
            },
            stream_data=f"/Tx BMC BT /Helv 10 Tf 2 6 Td ({value}) Tj ET EMC".encode(),
        )
        field[generic.pdf_name("/AP")] = generic.DictionaryObject(
            {generic.pdf_name("/N"): writer.add_object(ap)}
        )
        writer.update_container(field)
    return _write(writer)

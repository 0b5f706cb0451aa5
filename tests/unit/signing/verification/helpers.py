"""A throw-away PKI (built with ``cryptography``) and pyHanko signing helpers for the
verification tests: a root CA, a signer, a TSA (in-process ``DummyTimeStamper``), CRLs."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator.registry import SimpleCertificateStore

from testkit.pdfs import write_pdf

NOW = datetime.now(UTC).replace(microsecond=0)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Liên Thông test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def key_to_asn1(key: rsa.RSAPrivateKey) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return to_asn1(self.cert)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


class ThrowawayPki:
    """Root CA → signer, TSA. Every certificate valid from a day ago for a year."""

    def __init__(self, crl_url: str | None = "http://127.0.0.1:9/root.crl") -> None:
        self.root = self._root()
        self.crl_url = crl_url
        self.signer = self.issue("Nguyễn Văn A")
        self.tsa = self.issue("Test TSA", tsa=True)

    def _root(self) -> Issued:
        key = _key()
        name = _name("Liên Thông Test Root")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=30))
            .not_valid_after(NOW + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return Issued(cert, key)

    def issue(
        self,
        cn: str,
        *,
        tsa: bool = False,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        crl_url: str | None = ...,  # type: ignore[assignment]
    ) -> Issued:
        key = _key()
        url = self.crl_url if crl_url is ... else crl_url
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or NOW - timedelta(days=1))
            .not_valid_after(not_after or NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root.key.public_key()),
                critical=False,
            )
        )
        if tsa:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            ).add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        if url:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
        return Issued(builder.sign(self.root.key, hashes.SHA256()), key)

    # ---------------------------------------------------------------- signing

    def simple_signer(self, who: Issued | None = None) -> signers.SimpleSigner:
        who = who or self.signer
        return signers.SimpleSigner(
            signing_cert=who.asn1,
            signing_key=key_to_asn1(who.key),
            cert_registry=SimpleCertificateStore.from_certs([self.root.asn1]),
        )

    def timestamper(self, tsa: Issued | None = None) -> DummyTimeStamper:
        tsa = tsa or self.tsa
        return DummyTimeStamper(
            tsa_cert=tsa.asn1,
            tsa_key=key_to_asn1(tsa.key),
            certs_to_embed=SimpleCertificateStore.from_certs([self.root.asn1]),
        )

    def crl(
        self,
        revoked: list[tuple[x509.Certificate, datetime]] = (),  # type: ignore[assignment]
        *,
        this_update: datetime | None = None,
        next_update: datetime | None = None,
    ) -> asn1_crl.CertificateList:
        this_update = this_update or NOW
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.root.cert.subject)
            .last_update(this_update)
            .next_update(next_update or this_update + timedelta(days=7))
            .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root.key.public_key()),
                critical=False,
            )
        )
        for cert, when in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(cert.serial_number)
                .revocation_date(when)
                .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
                .build()
            )
        signed = builder.sign(self.root.key, hashes.SHA256())
        return asn1_crl.CertificateList.load(signed.public_bytes(serialization.Encoding.DER))


def minimal_pdf(text: str = "Hello, Lien Thong", pages: int = 1) -> bytes:
    """A small, well-formed PDF with a text content stream on each page."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    font_num = 3 + 2 * pages
    for i in range(pages):
        content = f"BT /F1 18 Tf 72 720 Td ({text} p{i + 1}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_num} 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length "
            + str(len(content)).encode()
            + b" >>\nstream\n"
            + content
            + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return write_pdf(objects)


def sign(
    pdf: bytes,
    pki: ThrowawayPki,
    *,
    field: str = "Sig1",
    timestamp: bool = False,
    tsa: Issued | None = None,
    who: Issued | None = None,
    certify: bool = False,
    box: tuple[int, int, int, int] | None = None,
    subfilter: fields.SigSeedSubFilter = fields.SigSeedSubFilter.PADES,
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=subfilter,
        md_algorithm="sha256",
        certify=certify,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES if certify else fields.MDPPerm.FILL_FORMS,
    )
    out = io.BytesIO()
    signers.PdfSigner(
        meta,
        signer=pki.simple_signer(who),
        timestamper=pki.timestamper(tsa) if timestamp else None,
        new_field_spec=fields.SigFieldSpec(field, box=box) if box else None,
    ).sign_pdf(writer, output=out)
    return out.getvalue()


def add_dss(
    pdf: bytes,
    pki: ThrowawayPki,
    crls: list[asn1_crl.CertificateList],
    extra: list[Issued] = (),  # type: ignore[assignment]
) -> bytes:
    out = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(
        out,
        sig_contents=None,
        certs=[pki.root.asn1, pki.signer.asn1, pki.tsa.asn1, *(i.asn1 for i in extra)],
        crls=crls,
        force_write=True,
    )
    return out.getvalue()


def add_document_timestamp(pdf: bytes, pki: ThrowawayPki, tsa: Issued | None = None) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = io.BytesIO()
    PdfTimeStamper(pki.timestamper(tsa)).timestamp_pdf(writer, "sha256", output=out)
    return out.getvalue()


def flip_byte(pdf: bytes, needle: bytes) -> bytes:
    pos = pdf.index(needle)
    data = bytearray(pdf)
    data[pos] = ord("J") if data[pos] != ord("J") else ord("K")
    return bytes(data)


def change_page_content(pdf: bytes, new_text: str = "Pay 1 000 000 000 VND") -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    content = f"BT /F1 18 Tf 72 720 Td ({new_text}) Tj ET".encode()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=content))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_annotation(pdf: bytes) -> bytes:
    """A visible square annotation with its own appearance over the page text."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    ap = generic.StreamObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
            generic.pdf_name("/BBox"): generic.ArrayObject(
                map(generic.NumberObject, (0, 0, 300, 40))
            ),
        },
        stream_data=b"1 1 1 rg 0 0 300 40 re f 0 g BT /Helv 18 Tf 5 12 Td (PAID) Tj ET",
    )
    annot = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Square"),
            generic.pdf_name("/Rect"): generic.ArrayObject(
                map(generic.NumberObject, (70, 710, 370, 750))
            ),
            generic.pdf_name("/AP"): generic.DictionaryObject(
                {generic.pdf_name("/N"): writer.add_object(ap)}
            ),
        }
    )
    annots = generic.ArrayObject([writer.add_object(annot)])
    page[generic.pdf_name("/Annots")] = annots
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_text_field(pdf: bytes) -> bytes:
    """A new visible text field whose appearance covers the page text."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    ap = generic.StreamObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/XObject"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Form"),
            generic.pdf_name("/BBox"): generic.ArrayObject(
                map(generic.NumberObject, (0, 0, 300, 40))
            ),
        },
        stream_data=b"1 1 1 rg 0 0 300 40 re f",
    )
    field = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Annot"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Widget"),
            generic.pdf_name("/FT"): generic.pdf_name("/Tx"),
            generic.pdf_name("/T"): generic.TextStringObject("Overlay"),
            generic.pdf_name("/V"): generic.TextStringObject("Pay 1 000 000 000 VND"),
            generic.pdf_name("/Rect"): generic.ArrayObject(
                map(generic.NumberObject, (70, 710, 370, 750))
            ),
            generic.pdf_name("/P"): page_ref,
            generic.pdf_name("/AP"): generic.DictionaryObject(
                {generic.pdf_name("/N"): writer.add_object(ap)}
            ),
        }
    )
    field_ref = writer.add_object(field)
    form = writer.root["/AcroForm"]
    form["/Fields"].append(field_ref)
    writer.update_container(form["/Fields"])
    writer.update_container(form)
    annots = page.get("/Annots") or generic.ArrayObject()
    annots.append(field_ref)
    page[generic.pdf_name("/Annots")] = annots
    writer.update_container(page)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_empty_signature_field(pdf: bytes, name: str = "Overlay") -> bytes:
    """A new, never signed, visible signature field (pyHanko rates this FORM_FILLING)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(
        writer, fields.SigFieldSpec(name, box=(70, 700, 370, 760), empty_field_appearance=True)
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def set_need_appearances(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    form = writer.root["/AcroForm"]
    form[generic.pdf_name("/NeedAppearances")] = generic.BooleanObject(True)
    if isinstance(writer.root.raw_get("/AcroForm"), generic.IndirectObject):
        writer.update_container(form)
    else:
        writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()

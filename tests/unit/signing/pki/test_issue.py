"""Issuing and revoking end-entity certificates; signers built from them; the CLI."""

from __future__ import annotations

import hashlib
import io
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.common.db import Database
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.signing import keys
from services.signing.models import Base
from services.signing.pki import ca, lookup, names, records
from services.signing.pki.cli import pki as pki_group
from services.signing.pki.errors import CertificateUnusable
from services.signing.pki.service import PkiService
from services.signing.settings import SigningSettings
from testkit.pdfs import one_page_pdf
from tests.unit.signing.pki.conftest import AGENCY, AGENCY_NAME, PASSPHRASE, PUBLIC_URL


def _organization(pki: PkiService) -> records.CertificateRecord:
    return pki.issue(agency=AGENCY, kind="organization", name=AGENCY_NAME)


def test_organization_certificate_extensions(pki: PkiService) -> None:
    record = _organization(pki)
    cert = record.certificate
    material = pki.material
    cert.verify_directly_issued_by(material.issuing_cert)
    assert 0 < cert.serial_number < 2**159
    assert record.serial == format(cert.serial_number, "x")
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]

    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.digital_signature and ku.value.content_commitment
    assert not (ku.value.key_encipherment or ku.value.key_cert_sign or ku.value.crl_sign)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert names.DOCUMENT_SIGNING in eku
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [dp.full_name[0].value for dp in cdp] == [f"{PUBLIC_URL}/pki/crl"]
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert {(a.access_method, a.access_location.value) for a in aia} == {
        (AuthorityInformationAccessOID.OCSP, f"{PUBLIC_URL}/pki/ocsp"),
        (AuthorityInformationAccessOID.CA_ISSUERS, f"{PUBLIC_URL}/pki/issuing.crt"),
    }


def test_subject_is_utf8_with_the_agency_code(pki: PkiService) -> None:
    record = _organization(pki)
    subject = record.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == AGENCY_NAME
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == AGENCY_NAME
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == AGENCY
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "VN"
    assert "organizationIdentifier=000.00.00.H41" in record.subject
    # The encoding on the wire: UTF8String for the Vietnamese text.
    parsed = asn1_x509.Certificate.load(record.der).subject
    kinds = {rdn[0]["type"].native: rdn[0]["value"].name for rdn in parsed.chosen}
    assert kinds["common_name"] == "utf8_string"
    assert kinds["organization_name"] == "utf8_string"


def test_personal_certificate_takes_the_agency_name(pki: PkiService) -> None:
    _organization(pki)
    person = pki.issue(agency=AGENCY, kind="personal", name="Nguyễn Văn An", title="Chủ tịch")
    subject = person.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Nguyễn Văn An"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == AGENCY_NAME
    assert subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Chủ tịch"


def test_decomposed_unicode_is_normalized() -> None:
    decomposed = "Nghe\u0302\u0323 An"  # e + combining circumflex + combining dot below
    assert names.clean_text(decomposed, "name") == "Nghệ An"


def test_key_is_in_an_encrypted_pkcs12(pki: PkiService) -> None:
    record = _organization(pki)
    assert record.key_ref == f"pkcs12:keys/{record.serial}.p12"
    path = pki.settings.pki_dir / "keys" / f"{record.serial}.p12"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(path.read_bytes(), b"wrong")
    key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), PASSPHRASE.encode())
    assert cert is not None and cert == record.certificate
    assert key is not None and key.public_key() == cert.public_key()
    assert [c.subject for c in extra] == [c.subject for c in pki.material.chain]


def test_reissuing_moves_current(pki: PkiService, db: Database) -> None:
    first = _organization(pki)
    second = _organization(pki)
    assert not lookup.find_certificate(db, first.serial).is_current  # type: ignore[union-attr]
    current = lookup.current_certificate(db, AGENCY, "organization")
    assert current is not None and current.serial == second.serial
    assert lookup.current_certificate(db, "000.00.99.H41", "organization") is None


def test_several_holders_need_a_name(pki: PkiService, db: Database) -> None:
    pki.issue(agency=AGENCY, kind="personal", name="Nguyễn Văn An", organization=AGENCY_NAME)
    b = pki.issue(agency=AGENCY, kind="personal", name="Trần Thị Bình", organization=AGENCY_NAME)
    with pytest.raises(Conflict, match="several holders"):
        lookup.current_certificate(db, AGENCY, "personal")
    found = lookup.current_certificate(db, AGENCY, "personal", "Trần Thị Bình")
    assert found is not None and found.serial == b.serial


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "department", "kind"),
        ("name", "   ", "blank"),
        ("name", "X" * 65, "at most 64"),
        ("agency", "bad code!", "agency code"),
    ],
)
def test_bad_requests_are_refused(pki: PkiService, field: str, value: str, message: str) -> None:
    request = {"agency": AGENCY, "kind": "organization", "name": AGENCY_NAME, field: value}
    with pytest.raises(ValidationFailed, match=message):
        pki.issue(agency=request["agency"], kind=request["kind"], name=request["name"])


def test_revoke(pki: PkiService, db: Database) -> None:
    record = _organization(pki)
    revoked = pki.revoke(record.serial.upper(), "keyCompromise")
    assert revoked.status == "revoked"
    assert revoked.revocation_reason == "keyCompromise"
    assert revoked.revoked_at is not None
    assert (datetime.now(UTC) - revoked.revoked_at).total_seconds() < 5
    assert not revoked.is_current
    assert lookup.current_certificate(db, AGENCY, "organization") is None
    with pytest.raises(Conflict, match="already revoked"):
        pki.revoke(record.serial)
    with pytest.raises(NotFound):
        pki.revoke("0xdeadbeef")
    with pytest.raises(ValidationFailed, match="revocation reason"):
        pki.revoke(_organization(pki).serial, "because")
    with pytest.raises(ValidationFailed, match="serial"):
        pki.revoke("not-hex")


def test_signer_is_cached_and_refuses_revoked(pki: PkiService) -> None:
    record = _organization(pki)
    signer = pki.signer_for(record)
    assert isinstance(signer, keys.CachedKeySigner)
    assert pki.signer_for(record) is signer
    revoked = pki.revoke(record.serial)
    with pytest.raises(CertificateUnusable, match="revoked"):
        pki.signer_for(revoked)


def test_signer_signs_a_pdf_that_validates(pki: PkiService, settings: SigningSettings) -> None:
    record = _organization(pki)
    signer = keys.signer_for(record, settings)
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(one_page_pdf())),
        signers.PdfSignatureMetadata(field_name="Signature1"),
        signer=signer,
        output=out,
    )
    reader = PdfFileReader(out)
    context = ValidationContext(trust_roots=[pki.material.root_asn1], allow_fetching=False)
    status = validate_pdf_signature(reader.embedded_signatures[0], context)
    assert status.intact and status.valid
    assert status.trusted
    assert status.signing_cert.serial_number == record.serial_number
    # The signing-certificate-v2 attribute (computed once per signer) names this cert.
    signer_info = reader.embedded_signatures[0].signer_info
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(record.der).digest()


def test_cached_signer_signs_repeatedly(pki: PkiService) -> None:
    record = _organization(pki)
    signer = pki.signer_for(record)
    context = ValidationContext(trust_roots=[pki.material.root_asn1], allow_fetching=False)
    for field in ("A", "B", "C"):
        out = io.BytesIO()
        signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(one_page_pdf())),
            signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES),
            signer=signer,
            output=out,
        )
        status = validate_pdf_signature(PdfFileReader(out).embedded_signatures[0], context)
        assert status.bottom_line


def test_signer_refuses_a_certificate_of_a_replaced_ca(
    pki: PkiService, tmp_path: Path, db: Database
) -> None:
    record = _organization(pki)
    foreign = records.CertificateRecord(**{**record.__dict__, "issuer_key_id": "00" * 20})
    with pytest.raises(CertificateUnusable, match="no longer uses"):
        pki.keys.signer_for(foreign)


# --- the CLI -----------------------------------------------------------------------------


def test_cli_init_issue_list_revoke(tmp_path: Path) -> None:
    env = {
        "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
        "LIENTHONG_PKI_PASSPHRASE": PASSPHRASE,
        "LIENTHONG_SIGNING_PUBLIC_URL": PUBLIC_URL,
    }
    runner = CliRunner()
    monkey_sizes = {"root_key_size": 2048, "ca_key_size": 2048}
    original = ca.init_pki

    def quick_init(settings: SigningSettings, *, force: bool = False) -> ca.InitResult:
        return original(settings, force=force, **monkey_sizes)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("services.signing.pki.cli.init_pki", quick_init)
        result = runner.invoke(pki_group, ["init"], env=env)
        assert result.exit_code == 0, result.output
        assert "created the PKI" in result.output
        again = runner.invoke(pki_group, ["init"], env=env)
        assert "left as it is" in again.output

    settings = SigningSettings.from_env(env)
    database = Database(settings.database_url)
    Base.metadata.create_all(database.engine)

    issued = runner.invoke(
        pki_group,
        ["issue", "--agency", AGENCY, "--kind", "organization", "--name", AGENCY_NAME],
        env=env,
    )
    assert issued.exit_code == 0, issued.output
    serial = issued.stdout.strip()
    assert lookup.find_certificate(database, serial) is not None

    listed = runner.invoke(pki_group, ["list"], env=env)
    assert listed.exit_code == 0
    assert f"{serial}\t{AGENCY}\torganization\t{AGENCY_NAME}\tvalid current" in listed.stdout

    revoked = runner.invoke(pki_group, ["revoke", serial, "--reason", "superseded"], env=env)
    assert revoked.exit_code == 0, revoked.output
    record = lookup.find_certificate(database, serial)
    assert record is not None and record.status == "revoked"
    assert record.revocation_reason == "superseded"
    database.dispose()


def test_signer_by_holder(pki: PkiService) -> None:
    with pytest.raises(NotFound, match="pki issue"):
        pki.signer(AGENCY, "organization")
    record = _organization(pki)
    signer, found = pki.signer(AGENCY, "organization")
    assert found.serial == record.serial
    assert found.organization == AGENCY_NAME and found.common_name == AGENCY_NAME
    assert signer is pki.signer_for(record)
    pki.revoke(record.serial, "keyCompromise")
    with pytest.raises(CertificateUnusable, match="revoked"):
        pki.signer(AGENCY, "organization")

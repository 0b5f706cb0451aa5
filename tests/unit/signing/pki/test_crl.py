"""The issuing CA's CRL and the root's."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509

from services.signing.pki import revoking
from services.signing.pki.service import PkiService
from tests.unit.signing.pki.conftest import AGENCY


def _crl(pki: PkiService) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl(pki.crl_der())


def test_empty_crl_is_signed_by_the_issuing_ca(pki: PkiService) -> None:
    crl = _crl(pki)
    material = pki.material
    assert crl.issuer == material.issuing_cert.subject
    assert crl.is_signature_valid(material.issuing_cert.public_key())  # type: ignore[arg-type]
    assert len(crl) == 0
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier.hex() == material.issuer_key_id  # type: ignore[union-attr]


def test_crl_is_cached_until_a_revocation(pki: PkiService) -> None:
    a = pki.issue(agency=AGENCY, kind="organization", name="Sở Nội vụ")
    b = pki.issue(agency=AGENCY, kind="personal", name="Lê Văn Cường", organization="Sở Nội vụ")
    first = pki.crl_der()
    assert pki.crl_der() is first  # served from memory

    revoked_a = pki.revoke(a.serial, "keyCompromise")
    pki.revoke(b.serial)  # unspecified: no reason code on the entry
    crl = x509.load_der_x509_crl(pki.crl_der())
    assert len(crl) == 2
    entry = crl.get_revoked_certificate_by_serial_number(a.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.key_compromise
    )
    assert entry.revocation_date_utc == revoked_a.revoked_at
    plain = crl.get_revoked_certificate_by_serial_number(b.serial_number)
    assert plain is not None and len(plain.extensions) == 0
    old_number = x509.load_der_x509_crl(first).extensions.get_extension_for_class(x509.CRLNumber)
    new_number = crl.extensions.get_extension_for_class(x509.CRLNumber)
    assert new_number.value.crl_number > old_number.value.crl_number


def test_revocation_by_another_process_shows_at_once(pki: PkiService) -> None:
    """The CLI revokes in its own process: the serving process's cache must notice."""
    record = pki.issue(agency=AGENCY, kind="organization", name="Sở Tài chính")
    assert len(x509.load_der_x509_crl(pki.crl_der())) == 0
    revoking.revoke(pki.db, record.serial, "superseded")  # not through the service
    crl = x509.load_der_x509_crl(pki.crl_der())
    assert crl.get_revoked_certificate_by_serial_number(record.serial_number) is not None


def test_root_crl(pki: PkiService) -> None:
    crl = x509.load_der_x509_crl(pki.root_crl_der())
    root = pki.material.root_cert
    assert crl.issuer == root.subject
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    assert len(crl) == 0
    assert pki.root_crl_der() == pki.root_crl_der()

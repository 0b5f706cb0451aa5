"""Creating and loading the CAs: files, protection, extensions, idempotence, renewal."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
)

from services.common.errors import Conflict, SettingsError
from services.signing.pki import ca, certificates, material, names, storage
from services.signing.pki.errors import PkiNotInitialized
from services.signing.pki.trust import trust_roots
from services.signing.settings import SigningSettings
from tests.unit.signing.pki.conftest import PASSPHRASE, PUBLIC_URL, settings_for


def _ext(cert: x509.Certificate, cls: type) -> x509.Extension:
    return cert.extensions.get_extension_for_class(cls)


def test_files_are_private_and_keys_encrypted(shared_pki_dir: Path) -> None:
    assert stat.S_IMODE(shared_pki_dir.stat().st_mode) == 0o700
    for role in storage.ROLES:
        for path in (shared_pki_dir / f"{role}.pem", shared_pki_dir / f"{role}-key.pem"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        pem = (shared_pki_dir / f"{role}-key.pem").read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):  # needs the passphrase
            serialization.load_pem_private_key(pem, password=None)
        key = serialization.load_pem_private_key(pem, password=PASSPHRASE.encode())
        assert isinstance(key, rsa.RSAPrivateKey)


def test_root_and_issuing_ca(settings: SigningSettings) -> None:
    m = material.load_pki(settings)
    root, issuing = m.root_cert, m.issuing_cert
    assert root.public_key().key_size == 4096  # type: ignore[union-attr]
    assert issuing.public_key().key_size == 3072  # type: ignore[union-attr]
    assert root.subject == root.issuer
    assert issuing.issuer == root.subject
    root_life = root.not_valid_after_utc - root.not_valid_before_utc
    issuing_life = issuing.not_valid_after_utc - issuing.not_valid_before_utc
    assert timedelta(days=7300) < root_life < timedelta(days=7310)
    assert timedelta(days=3650) < issuing_life < timedelta(days=3655)

    bc = _ext(issuing, x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = _ext(issuing, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    assert _ext(root, x509.BasicConstraints).value.ca
    issuing.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)

    cdp = _ext(issuing, x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == f"{PUBLIC_URL}/pki/root.crl"
    aia = _ext(issuing, x509.AuthorityInformationAccess).value
    assert [(a.access_method, a.access_location.value) for a in aia] == [
        (AuthorityInformationAccessOID.CA_ISSUERS, f"{PUBLIC_URL}/pki/root.crt")
    ]
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == names.ROOT_NAME


def test_tsa_certificate(settings: SigningSettings) -> None:
    m = material.load_pki(settings)
    tsa = m.tsa_cert
    tsa.verify_directly_issued_by(m.issuing_cert)
    eku = _ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku = _ext(tsa, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    assert not _ext(tsa, x509.BasicConstraints).value.ca


def test_ocsp_responder_certificate(settings: SigningSettings) -> None:
    m = material.load_pki(settings)
    responder = m.ocsp_cert
    responder.verify_directly_issued_by(m.issuing_cert)
    assert list(_ext(responder, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert _ext(responder, x509.OCSPNoCheck).value == x509.OCSPNoCheck()
    life = responder.not_valid_after_utc - responder.not_valid_before_utc
    assert life <= timedelta(days=366)


def test_init_is_idempotent_and_force_replaces(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", tmp_path / "pki")
    with pytest.raises(PkiNotInitialized):
        material.load_pki(settings)
    first = ca.init_pki(settings, root_key_size=2048, ca_key_size=2048)
    assert first.created
    again = ca.init_pki(settings)
    assert not again.created
    assert again.material.root_der == first.material.root_der
    replaced = ca.init_pki(settings, force=True, root_key_size=2048, ca_key_size=2048)
    assert replaced.created
    assert replaced.material.root_der != first.material.root_der
    assert material.load_pki(settings).root_der == replaced.material.root_der


def test_partial_pki_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", tmp_path / "pki")
    ca.init_pki(settings, root_key_size=2048, ca_key_size=2048)
    (tmp_path / "pki" / "tsa.pem").unlink()
    with pytest.raises(Conflict, match="part of a PKI"):
        ca.init_pki(settings)
    with pytest.raises(PkiNotInitialized):
        material.load_pki(settings)


def test_wrong_passphrase_is_a_settings_error(tmp_path: Path, shared_pki_dir: Path) -> None:
    material.clear_cache()
    wrong = settings_for(
        tmp_path / "data", shared_pki_dir, LIENTHONG_PKI_PASSPHRASE="not the right one!"
    )
    with pytest.raises(SettingsError, match="PASSPHRASE"):
        material.load_pki(wrong)


def test_expiring_responder_is_renewed_on_load(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", tmp_path / "pki")
    m = ca.init_pki(settings, root_key_size=2048, ca_key_size=2048).material
    old_key = certificates.new_key(2048)
    short = certificates.build_certificate(
        subject=m.ocsp_cert.subject,
        public_key=old_key.public_key(),
        issuer=m.issuing_cert,
        issuer_key=m.issuing_key,
        lifetime=timedelta(days=10),
        extensions=[(x509.OCSPNoCheck(), False)],
    )
    paths = storage.PkiPaths(settings.pki_dir)
    storage.write_private_file(
        paths.key("ocsp"),
        old_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(settings.pki_passphrase),
        ),
    )
    storage.write_private_file(paths.cert("ocsp"), short.public_bytes(serialization.Encoding.PEM))
    material.clear_cache()
    renewed = material.load_pki(settings).ocsp_cert
    assert renewed.serial_number != short.serial_number
    assert renewed.not_valid_after_utc - certificates.now() > timedelta(days=300)
    on_disk = x509.load_pem_x509_certificate(paths.cert("ocsp").read_bytes())
    assert on_disk == renewed


def test_trust_roots_add_configured_files(tmp_path: Path, shared_pki_dir: Path) -> None:
    other = certificates.new_key(2048)
    foreign = certificates.build_certificate(
        subject=names.pki_subject("Root CA quốc gia (thử)"),
        public_key=other.public_key(),
        issuer=None,
        issuer_key=other,
        lifetime=timedelta(days=30),
        extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    der_file = tmp_path / "national.cer"
    der_file.write_bytes(foreign.public_bytes(serialization.Encoding.DER))
    own = (shared_pki_dir / "root.pem").read_bytes()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(own + foreign.public_bytes(serialization.Encoding.PEM))
    settings = settings_for(
        tmp_path / "data", shared_pki_dir, LIENTHONG_TRUST_ROOTS=f"{der_file},{bundle}"
    )
    roots = trust_roots(settings)
    assert [r.subject for r in roots] == [
        x509.load_pem_x509_certificate(own).subject,
        foreign.subject,
    ]

    broken = tmp_path / "broken.pem"
    broken.write_bytes(b"not a certificate")
    with pytest.raises(SettingsError, match=r"broken\.pem"):
        trust_roots(
            settings_for(tmp_path / "data", shared_pki_dir, LIENTHONG_TRUST_ROOTS=str(broken))
        )


def test_trust_roots_without_pki_are_only_the_configured_ones(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", tmp_path / "nothing-here")
    assert trust_roots(settings) == []

"""Issuing end-entity (document-signing) certificates, keys in PKCS#12 or on a token."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from services.common.db import Database
from services.common.errors import ValidationFailed
from services.signing.pki import names
from services.signing.pki import pkcs11 as tokens
from services.signing.pki.certificates import (
    PublicUrls,
    build_certificate,
    end_entity_extensions,
    fingerprint,
    new_key,
)
from services.signing.pki.errors import TokenError
from services.signing.pki.lookup import list_certificates
from services.signing.pki.material import PkiMaterial, load_pki
from services.signing.pki.models import STATUS_VALID, Certificate
from services.signing.pki.records import CertificateRecord
from services.signing.pki.storage import write_private_file
from services.signing.settings import SigningSettings

log = logging.getLogger(__name__)


def issue(
    db: Database,
    settings: SigningSettings,
    *,
    agency: str,
    kind: str,
    name: str,
    organization: str | None = None,
    title: str | None = None,
    days: int = names.END_ENTITY_DAYS,
    pkcs11: bool = False,
    token_label: str | None = None,
    material: PkiMaterial | None = None,
) -> CertificateRecord:
    """Issue a document-signing certificate; it becomes the current one for
    (agency, kind, name).

    The key is RSA-2048, either in ``pki_dir/keys/<serial>.p12`` (PKCS#12 encrypted
    with the PKI passphrase; key_ref ``pkcs12:keys/<serial>.p12``, relative to
    pki_dir so the directory can move) or generated on a PKCS#11 token where it stays
    (key_ref ``pkcs11:<token label>/lienthong-<serial>``).
    ``organization`` (the O attribute) defaults to the name itself for an
    organization certificate, and to the name on the agency's current organization
    certificate for a personal one.
    """
    agency = names.clean_agency_code(agency)
    kind = names.check_kind(kind)
    holder = names.clean_text(name, "name")
    assert holder is not None
    title = names.clean_text(title, "title", required=False)
    organization = names.clean_text(organization, "organization name", required=False)
    if not 1 <= days <= 3653:
        raise ValidationFailed("a certificate lives between 1 and 3653 days")
    if kind == "organization":
        organization = organization or holder
    elif organization is None:
        orgs = list_certificates(db, agency, "organization", current_only=True)
        organization = orgs[-1].name if orgs else None  # the latest issued
    material = material or load_pki(settings)
    urls = PublicUrls.of(settings)
    serial = x509.random_serial_number()
    serial_hex = names.serial_hex(serial)
    subject = names.holder_subject(
        common_name=holder, agency_code=agency, organization=organization, title=title
    )

    label = tokens.key_label(serial_hex)
    token = token_label or settings.pkcs11.token_label
    p12_path = material.paths.keys_dir / f"{serial_hex}.p12"
    if pkcs11:
        if not token:
            raise TokenError(
                "no PKCS#11 token named: pass a token label or set LIENTHONG_PKCS11_TOKEN"
            )
        public_key = tokens.generate_key(
            settings.pkcs11, token, label, tokens.key_id(serial), names.END_ENTITY_KEY_SIZE
        )
        private_key = None
        ref = tokens.key_ref(token, label)
    else:
        private_key = new_key(names.END_ENTITY_KEY_SIZE)
        public_key = private_key.public_key()
        ref = f"pkcs12:{p12_path.relative_to(material.paths.root_dir)}"  # relative to pki_dir

    try:
        cert = build_certificate(
            subject=subject,
            public_key=public_key,
            issuer=material.issuing_cert,
            issuer_key=material.issuing_key,
            lifetime=timedelta(days=days),
            extensions=end_entity_extensions(urls),
            serial=serial,
        )
        if private_key is not None:
            bundle = pkcs12.serialize_key_and_certificates(
                name=label.encode(),
                key=private_key,
                cert=cert,
                cas=material.chain,
                encryption_algorithm=serialization.BestAvailableEncryption(settings.pki_passphrase),
            )
            write_private_file(p12_path, bundle)
        else:
            assert token is not None
            tokens.store_certificate(settings.pkcs11, token, label, tokens.key_id(serial), cert)
        record = _record(
            db, cert, agency=agency, kind=kind, name=holder, key_ref=ref, material=material
        )
    except BaseException:
        if private_key is not None:
            with contextlib.suppress(OSError):
                p12_path.unlink()
        elif token is not None:
            tokens.destroy_objects(settings.pkcs11, token, label)
        raise
    log.info(
        "issued %s certificate %s for %s (%s), key %s",
        kind,
        serial_hex,
        agency,
        holder,
        "on token " + str(token) if pkcs11 else "in PKCS#12",
    )
    return record


def _record(
    db: Database,
    cert: x509.Certificate,
    *,
    agency: str,
    kind: str,
    name: str,
    key_ref: str,
    material: PkiMaterial,
) -> CertificateRecord:
    with db.unit_of_work() as session:
        session.execute(
            sa.update(Certificate)
            .where(
                Certificate.agency_code == agency,
                Certificate.kind == kind,
                Certificate.name == name,
                Certificate.is_current.is_(True),
            )
            .values(is_current=False)
        )
        row = Certificate(
            serial=names.serial_hex(cert.serial_number),
            issuer_key_id=material.issuer_key_id,
            agency_code=agency,
            kind=kind,
            name=name,
            subject=names.subject_text(cert.subject),
            fingerprint=fingerprint(cert),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            der=cert.public_bytes(serialization.Encoding.DER),
            key_ref=key_ref,
            status=STATUS_VALID,
            is_current=True,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return CertificateRecord.of(row)

"""The OCSP responder: good, revoked, unknown, unauthorized, malformed; nonce; CertID hashes."""

from __future__ import annotations

import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp

from services.signing.pki import certificates, names
from services.signing.pki.ocsp import OcspResponder
from services.signing.pki.service import PkiService
from tests.unit.signing.pki.conftest import AGENCY


def _request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    algorithm: hashes.HashAlgorithm | None = None,
    nonce: bytes | None = None,
) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _answer(pki: PkiService, request: bytes) -> ocsp.OCSPResponse:
    return ocsp.load_der_ocsp_response(pki.ocsp_response(request))


def _check_signed(pki: PkiService, response: ocsp.OCSPResponse) -> None:
    responder = pki.material.ocsp_cert
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificates == [responder]
    assert response.responder_key_hash == (
        x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
    )
    key = responder.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert response.signature_hash_algorithm is not None
    key.verify(
        response.signature,
        response.tbs_response_bytes,
        padding.PKCS1v15(),
        response.signature_hash_algorithm,
    )


@pytest.mark.parametrize("algorithm", [hashes.SHA1(), hashes.SHA256(), hashes.SHA512()])
def test_good_with_nonce(pki: PkiService, algorithm: hashes.HashAlgorithm) -> None:
    record = pki.issue(agency=AGENCY, kind="organization", name="Sở Y tế")
    nonce = os.urandom(16)
    response = _answer(
        pki, _request(record.certificate, pki.material.issuing_cert, algorithm, nonce)
    )
    _check_signed(pki, response)
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == record.serial_number
    assert response.hash_algorithm.name == algorithm.name
    echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert echoed == nonce
    assert response.next_update_utc is not None
    assert response.next_update_utc > response.this_update_utc


def test_revoked(pki: PkiService) -> None:
    record = pki.issue(agency=AGENCY, kind="organization", name="Sở Xây dựng")
    revoked = pki.revoke(record.serial, "keyCompromise")
    response = _answer(pki, _request(record.certificate, pki.material.issuing_cert))
    _check_signed(pki, response)
    assert response.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == revoked.revoked_at
    assert response.revocation_reason == x509.ReasonFlags.key_compromise
    with pytest.raises(x509.ExtensionNotFound):  # no nonce asked, none sent
        response.extensions.get_extension_for_class(x509.OCSPNonce)


def test_unknown_serial(pki: PkiService) -> None:
    material = pki.material
    key = certificates.new_key(2048)
    stranger = certificates.build_certificate(  # signed by our CA but never recorded
        subject=names.pki_subject("Không có trong sổ"),
        public_key=key.public_key(),
        issuer=material.issuing_cert,
        issuer_key=material.issuing_key,
        lifetime=names.OCSP_LIFETIME,
        extensions=[],
    )
    response = _answer(pki, _request(stranger, material.issuing_cert, hashes.SHA256()))
    _check_signed(pki, response)
    assert response.certificate_status == ocsp.OCSPCertStatus.UNKNOWN


def test_our_tsa_certificate_is_good(pki: PkiService) -> None:
    material = pki.material
    response = _answer(pki, _request(material.tsa_cert, material.issuing_cert))
    assert response.certificate_status == ocsp.OCSPCertStatus.GOOD


def test_another_issuer_is_unauthorized(pki: PkiService) -> None:
    material = pki.material
    # The issuing CA itself is the root's: not ours to answer for.
    response = _answer(pki, _request(material.issuing_cert, material.root_cert))
    assert response.response_status == ocsp.OCSPResponseStatus.UNAUTHORIZED


@pytest.mark.parametrize("body", [b"", b"\x30\x03\x02\x01\x01", b"not DER at all", b"\x30" * 20000])
def test_malformed_requests(pki: PkiService, body: bytes) -> None:
    response = _answer(pki, body)
    assert response.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_database_failure_is_an_internal_error(pki: PkiService) -> None:
    material = pki.material

    def broken(_serial: int) -> object:
        raise RuntimeError("database down")

    responder = OcspResponder(material, broken)  # type: ignore[arg-type]
    record_request = _request(material.ocsp_cert, material.issuing_cert)
    # Infrastructure serials do not touch the database ...
    assert ocsp.load_der_ocsp_response(responder.respond(record_request)).response_status == (
        ocsp.OCSPResponseStatus.SUCCESSFUL
    )
    # ... anything else does, and fails in-protocol.
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        x509.ocsp.load_der_ocsp_request(record_request).issuer_name_hash,
        x509.ocsp.load_der_ocsp_request(record_request).issuer_key_hash,
        12345,
        hashes.SHA1(),
    )
    answer = responder.respond(builder.build().public_bytes(serialization.Encoding.DER))
    assert ocsp.load_der_ocsp_response(answer).response_status == (
        ocsp.OCSPResponseStatus.INTERNAL_ERROR
    )

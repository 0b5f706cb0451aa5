"""The /pki endpoints through Flask's test client."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from asn1crypto import algos, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from flask.testing import FlaskClient

from services.common.db import Database
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.pki.tsa import TimeStampResp
from services.signing.settings import SigningSettings
from tests.unit.signing.kit import pki_app
from tests.unit.signing.pki.conftest import AGENCY, settings_for


@pytest.fixture
def client(settings: SigningSettings, db: Database, pki: PkiService) -> FlaskClient:
    return pki_app(settings, db, pki).test_client()


def _ocsp_request(pki: PkiService, cert: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        cert, pki.material.issuing_cert, hashes.SHA1()
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


def test_ca_certificates(client: FlaskClient, pki: PkiService) -> None:
    for path, expected in (
        ("/pki/root.crt", pki.material.root_cert),
        ("/pki/issuing.crt", pki.material.issuing_cert),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "application/pkix-cert"
        assert x509.load_der_x509_certificate(response.data) == expected


def test_crls(client: FlaskClient, pki: PkiService) -> None:
    response = client.get("/pki/crl")
    assert response.status_code == 200
    assert response.mimetype == "application/pkix-crl"
    assert x509.load_der_x509_crl(response.data).issuer == pki.material.issuing_cert.subject
    root = client.get("/pki/root.crl")
    assert x509.load_der_x509_crl(root.data).issuer == pki.material.root_cert.subject


def test_ocsp_post_and_get(client: FlaskClient, pki: PkiService) -> None:
    record = pki.issue(agency=AGENCY, kind="organization", name="Sở Công Thương")
    request = _ocsp_request(pki, record.certificate)
    posted = client.post(
        "/pki/ocsp", data=request, headers={"Content-Type": "application/ocsp-request"}
    )
    assert posted.status_code == 200
    assert posted.mimetype == "application/ocsp-response"
    assert ocsp.load_der_ocsp_response(posted.data).certificate_status == ocsp.OCSPCertStatus.GOOD

    pki.revoke(record.serial)
    encoded = base64.b64encode(request).decode()
    fetched = client.get(f"/pki/ocsp/{encoded}")
    assert fetched.status_code == 200
    answer = ocsp.load_der_ocsp_response(fetched.data)
    assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
    # URL-encoded form (RFC 6960 A.1), slashes and all
    quoted = encoded.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D")
    assert client.get(f"/pki/ocsp/{quoted}").data[:4] == fetched.data[:4]


def test_ocsp_garbage_answers_in_protocol(client: FlaskClient) -> None:
    for response in (
        client.post("/pki/ocsp", data=b"nonsense"),
        client.get("/pki/ocsp/not*base64"),
        client.post("/pki/ocsp", data=b"\x00" * 100_000),
    ):
        assert response.status_code == 200
        assert ocsp.load_der_ocsp_response(response.data).response_status == (
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        )


def test_tsa(client: FlaskClient, settings: SigningSettings) -> None:
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": hashlib.sha256(b"x").digest(),
            },
            "nonce": 42,
            "cert_req": True,
        }
    ).dump()
    token = {"Authorization": f"Bearer {settings.common.service_token}"}
    response = client.post(
        "/pki/tsa", data=query, headers={"Content-Type": "application/timestamp-query", **token}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/timestamp-reply"
    reply = TimeStampResp.load(response.data)
    assert reply["status"]["status"].native == "granted"

    refused = TimeStampResp.load(client.post("/pki/tsa", data=b"junk", headers=token).data)
    assert refused["status"]["fail_info"].native == {"bad_data_format"}


def test_without_a_pki(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", tmp_path / "no-pki")
    db = Database(settings.database_url)
    client = pki_app(settings, db, build_pki_service(settings, db)).test_client()
    response = client.get("/pki/root.crt")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "pki_not_initialized"
    answer = client.post("/pki/ocsp", data=b"\x30\x00")
    assert ocsp.load_der_ocsp_response(answer.data).response_status == (
        ocsp.OCSPResponseStatus.TRY_LATER
    )
    token = {"Authorization": f"Bearer {settings.common.service_token}"}
    refused = TimeStampResp.load(client.post("/pki/tsa", data=b"\x30\x00", headers=token).data)
    assert refused["status"]["status"].native == "rejection"
    db.dispose()


def test_auto_init(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", tmp_path / "pki")
    db = Database(settings.database_url)
    service = build_pki_service(settings, db, auto_init=True)
    assert service.material.root_cert.subject == service.trust_roots()[0].subject
    db.dispose()

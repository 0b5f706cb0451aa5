"""Signing's XML-DSig API for edXML packages: a package signed with the agency's
organization certificate verifies as valid against the PKI's root; a changed one is
invalid; the service token is required. And a document that is not a PDF (an edXML
package may carry none) is recorded on arrival as unsigned."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from services.common.contract import Verdict
from services.ingest.edxml.emit import OutgoingAttachment, document_package, status_package
from tests.unit.signing.kit import AGENCY, ORGANIZATION, SigningKit, settings_for
from tests.unit.signing.test_signing_api import Signing, assert_problem, running, signing

__all__ = ["signing"]  # the fixtures, found here by pytest

XML = {"Content-Type": "application/xml"}
MiB = 1024 * 1024


def package(slot: bool = True) -> bytes:
    return status_package(
        response_for={"OrganId": AGENCY, "DocumentId": f"{AGENCY},2026/11/21,15/UBND-VP"},
        from_={"OrganId": AGENCY},
        staff={"Staff": "Văn thư"},
        status_code="03",
        description="Đã vào sổ",
        timestamp=datetime(2026, 11, 21, 2, 30, tzinfo=UTC),
        signature_slot=slot,
    )


def test_sign_then_verify(signing: Signing) -> None:
    signed = signing.client.post(
        f"/v1/xml/sign?agency={AGENCY}", data=package(), headers={**signing.auth, **XML}
    )
    assert signed.status_code == 200, signed.get_data(as_text=True)
    assert signed.mimetype == "application/xml"
    # The signature sits where the package left its place, in the header.
    header_end = signed.data.index(b"</edXML:edXMLHeader>")
    assert signed.data.index(b"<ds:SignatureValue>") < header_end
    verdict = signing.client.post(
        "/v1/xml/verify", data=signed.data, headers={**signing.auth, **XML}
    )
    answer = verdict.get_json()
    assert answer["verdict"] == Verdict.VALID.value, answer
    assert answer["organization"] == ORGANIZATION
    assert answer["serial"] and signed.headers["X-Signer-Serial"]

    changed = signed.data.replace("Đã vào sổ".encode(), "Đã trả lại".encode())
    answer = signing.client.post(
        "/v1/xml/verify", data=changed, headers={**signing.auth, **XML}
    ).get_json()
    assert answer["verdict"] == Verdict.INVALID.value
    assert "does not match" in answer["reasons"][0]

    unsigned = signing.client.post(
        "/v1/xml/verify", data=package(slot=False), headers={**signing.auth, **XML}
    ).get_json()
    assert unsigned["verdict"] == Verdict.UNSIGNED.value


def test_a_signature_over_a_part_is_invalid(signing: Signing) -> None:
    signed = signing.client.post(
        f"/v1/xml/sign?agency={AGENCY}", data=package(), headers={**signing.auth, **XML}
    ).data
    partial = signed.replace(b'<ds:Reference URI="">', b'<ds:Reference URI="#header">')
    answer = signing.client.post(
        "/v1/xml/verify", data=partial, headers={**signing.auth, **XML}
    ).get_json()
    assert answer["verdict"] == Verdict.INVALID.value
    assert "whole package" in answer["reasons"][0]


def test_the_xml_api_is_for_services(signing: Signing) -> None:
    for path in (f"/v1/xml/sign?agency={AGENCY}", "/v1/xml/verify"):
        response = signing.client.post(path, data=package(), headers=XML)
        assert_problem(response, 401)
    unknown = signing.client.post(
        "/v1/xml/sign?agency=999.99.99.Z99", data=package(), headers={**signing.auth, **XML}
    )
    assert_problem(unknown, 404)
    doctype = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>'
    refused = signing.client.post("/v1/xml/verify", data=doctype, headers={**signing.auth, **XML})
    assert_problem(refused, 422)


def test_a_document_that_is_not_a_pdf_is_unsigned_on_arrival(signing: Signing) -> None:
    document = signing.receive("Giấy mời họp giao ban\n".encode())
    stored = signing.client.get(
        f"/v1/documents/{document}/verification", headers=signing.auth
    ).get_json()
    assert stored["verdict"] == Verdict.UNSIGNED.value
    assert "not a PDF" in stored["reasons"][0]
    (announced,) = [
        e for e in signing.outbox("document.verified") if e["payload"]["document"] == document
    ]
    assert announced["payload"]["verdict"] == "unsigned"
    assert announced["payload"]["signature_count"] == 0


def test_sha1_is_not_enough_for_valid(signing: Signing) -> None:
    signed = signing.client.post(
        f"/v1/xml/sign?agency={AGENCY}", data=package(), headers={**signing.auth, **XML}
    ).data
    sha1 = signed.replace(
        b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        b"http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    ).replace(b"http://www.w3.org/2001/04/xmlenc#sha256", b"http://www.w3.org/2000/09/xmldsig#sha1")
    answer = signing.client.post("/v1/xml/verify", data=sha1, headers={**signing.auth, **XML})
    verdict = answer.get_json()
    assert verdict["verdict"] == Verdict.INDETERMINATE.value
    assert "rsa-sha1" in verdict["reasons"][0] and "not accepted" in verdict["reasons"][0]


def test_a_document_that_is_not_a_pdf_cannot_be_signed(signing: Signing) -> None:
    document = signing.receive(b"\xd0\xcf\x11\xe0 a .doc, not a PDF")
    response = signing.sign(document, {"profile": "organization", "agency": AGENCY})
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


def test_a_package_too_large_to_check_is_indeterminate(
    kit: SigningKit, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = settings_for(
        tmp_path_factory.mktemp("xml-limit") / "data",
        kit.settings.pki_dir,
        LIENTHONG_BROKER_URL="memory://",
        LIENTHONG_XML_SIGNATURE_MAX_BYTES=str(64 * 1024),
    )
    big = package().replace(b"</edXML:Description>", b" " + b"x" * 70_000 + b"</edXML:Description>")
    with running(settings) as small:
        verdict = small.client.post("/v1/xml/verify", data=big, headers={**small.auth, **XML})
        answer = verdict.get_json()
        assert answer["verdict"] == Verdict.INDETERMINATE.value
        assert "not checked" in answer["reasons"][0]
        refused = small.client.post(
            f"/v1/xml/sign?agency={AGENCY}", data=big, headers={**small.auth, **XML}
        )
        assert_problem(refused, 413)
        fits = small.client.post(
            f"/v1/xml/sign?agency={AGENCY}", data=package(), headers={**small.auth, **XML}
        )
        assert fits.status_code == 200


def test_an_attachment_over_ten_megabytes_signs_and_verifies(signing: Signing) -> None:
    # One base64 text node of 14 MB: libxml2 refuses such a node unless told otherwise.
    big = b"".join(
        document_package(
            {"To": [{"OrganId": "000.00.01.H41"}], "Subject": "Tệp lớn"},
            document_id=f"{AGENCY},2026/11/21,16/UBND-VP",
            business_doc_type=0,
            trace=[],
            attachments=[
                OutgoingAttachment(
                    "lon.bin", "application/octet-stream", "c", "", [os.urandom(10 * MiB)]
                )
            ],
            signature_slot=True,
        )
    )
    signed = signing.client.post(
        f"/v1/xml/sign?agency={AGENCY}", data=big, headers={**signing.auth, **XML}
    )
    assert signed.status_code == 200, signed.get_data(as_text=True)
    verdict = signing.client.post(
        "/v1/xml/verify", data=signed.data, headers={**signing.auth, **XML}
    )
    assert verdict.get_json()["verdict"] == Verdict.VALID.value, verdict.get_json()

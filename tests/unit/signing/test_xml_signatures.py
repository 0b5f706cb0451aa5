"""Signing's XML-DSig API for edXML packages: a package signed with the agency's
organization certificate verifies as valid against the PKI's root; a changed one is
invalid; the service token is required. And a document that is not a PDF (an edXML
package may carry none) is recorded on arrival as unsigned."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.contract import Verdict
from services.ingest.edxml.emit import status_package
from tests.unit.signing.kit import AGENCY, ORGANIZATION
from tests.unit.signing.test_signing_api import Signing, assert_problem, signing

__all__ = ["signing"]  # the fixtures, found here by pytest

XML = {"Content-Type": "application/xml"}


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

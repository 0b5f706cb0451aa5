"""edXML through ingest's API: packages in (documents, updates, replacements, recalls,
statuses), packages out, JSON and edXML interchangeable, signatures and the policy."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.common.bus.envelope import wrap
from services.common.bus.messages import DocumentSigned
from services.common.contract import Status
from services.common.storage import spool
from services.ingest.edxml.emit import OutgoingAttachment, document_package, status_package
from services.ingest.edxml.parse import read_document, read_status
from services.ingest.edxml.safexml import QCVN_102, read_package
from services.ingest.models import Document, DocumentAttachment
from services.ingest.projections import on_document_signed
from services.ingest.settings import EdxmlSettings
from services.ingest.validation import check_metadata
from testkit.pdfs import one_page_pdf
from tests.unit.ingest.edxml_kit import (
    OLD_CODE,
    TENANT,
    EdxmlIngest,
    edx,
    sample,
    test_pki,
)
from tests.unit.ingest.test_api import (
    RECIPIENT,
    SENDER,
    THIRD,
    assert_problem,
    metadata,
    post_document,
)

__all__ = ["edx", "test_pki"]  # the fixtures, found here by pytest

DOCUMENT_ID = "000.00.00.H41,2024/03/15,12/UBND-VP"
SIGNATURE = "edXML/edXMLEnvelope/edXMLHeader/Signature"


def package_of(
    meta: dict[str, Any] | None = None,
    *,
    document_id: str = DOCUMENT_ID,
    doc_type: int = 0,
    files: dict[str, tuple[str, bytes]] | None = None,
    slot: bool = False,
) -> bytes:
    files = files if files is not None else {"cong-van.pdf": ("application/pdf", one_page_pdf())}
    return b"".join(
        document_package(
            meta if meta is not None else {**metadata(RECIPIENT), "Paper": 0},
            document_id=document_id,
            business_doc_type=doc_type,
            trace=[{"OrganId": SENDER, "Timestamp": "2024/03/15 08:00:00"}],
            attachments=[
                OutgoingAttachment(name, kind, name, "", [body])
                for name, (kind, body) in files.items()
            ],
            signature_slot=slot,
        )
    )


def status_of(code: str, document_id: str = DOCUMENT_ID, agency: str = RECIPIENT) -> bytes:
    return status_package(
        response_for={"OrganId": SENDER, "DocumentId": document_id},
        from_={"OrganId": agency},
        staff={"Staff": "Phạm Thị D"},
        status_code=code,
        description=f"status {code}",
        timestamp=datetime(2024, 3, 16, 2, 0, tzinfo=UTC),
    )


def reread(tmp_path: Path, data: bytes) -> Any:
    path = tmp_path / "reread.xml"
    path.write_bytes(data)
    raw = read_package(path, EdxmlSettings(), tmp_path / "reread")
    return raw


def test_the_sample_becomes_a_document_routed_like_json(edx: EdxmlIngest) -> None:
    response = edx.post_package(sample("qcvn102-new-document.xml"), key="pkg-1")
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["action"] == "document"
    assert answer["document_id"] == DOCUMENT_ID
    assert answer["recipients"] == [RECIPIENT, THIRD]
    assert answer["page_count"] == 1
    assert answer["signature"]["verdict"] == "unsigned"
    assert [a["name"] for a in answer["attachments"]] == ["12-UBND-VP.pdf", "phu-luc-1.doc"]
    assert response.headers["Location"] == f"/v1/documents/{answer['id']}"
    [received] = edx.announced("document.received")
    payload = received["payload"]
    # Paper, Priority, SteeringType, DueDate and ToPlaces reach routing as from JSON.
    assert payload["recipients"] == [RECIPIENT, THIRD]
    assert (payload["priority"], payload["paper"], payload["due_date"]) == (2, 1, "2024-03-30")
    assert payload["metadata"]["SteeringType"] == 1
    assert payload["metadata"]["ToPlaces"] == {"Place": ["Như trên", "Lưu: VT, TH"]}
    assert payload["sha256"] == hashlib.sha256(one_page_pdf("Cong van so 12")).hexdigest()
    # The same package and key again: the same answer, nothing new.
    again = edx.post_package(sample("qcvn102-new-document.xml"), key="pkg-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == answer["id"]
    assert edx.count(Document) == 1
    # The attachments download as they came.
    doc = edx.client.get(f"/v1/documents/{answer['id']}", headers=edx.auth(RECIPIENT)).get_json()
    assert [(a["name"], a["main"]) for a in doc["attachments"]] == [
        ("12-UBND-VP.pdf", True),
        ("phu-luc-1.doc", False),
    ]
    second = edx.client.get(
        f"/v1/documents/{answer['id']}/attachments/2", headers=edx.auth(RECIPIENT)
    )
    assert second.status_code == 200
    assert second.mimetype == "application/msword"
    assert second.data.startswith(b"\xd0\xcf\x11\xe0")
    assert "phu-luc-1.doc" in second.headers["Content-Disposition"]
    assert edx.spooled_files() == []


def test_a_package_without_a_pdf_travels_and_counts_as_unsigned(edx: EdxmlIngest) -> None:
    response = edx.post_package(sample("go-vn-messy-no-pdf.xml"), agency=OLD_CODE)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["document_id"] == "6f1c2d9e-4b7a-4c1e-9a0b-3e2f1d0c9b8a"
    assert answer["page_count"] == 0
    assert answer["recipients"] == [TENANT]
    content = edx.client.get(f"/v1/documents/{answer['id']}/content", headers=edx.auth(TENANT))
    assert content.status_code == 200
    assert content.mimetype == "text/plain"
    assert content.data.decode().startswith("Giấy mời họp")
    assert "giay-moi.txt" in content.headers["Content-Disposition"]
    # Exported again, it is the same document.
    out = edx.client.get(f"/v1/documents/{answer['id']}/edxml", headers=edx.auth(TENANT))
    assert out.status_code == 200 and out.mimetype == "application/xml"


def test_from_must_be_the_calling_agency(edx: EdxmlIngest) -> None:
    response = edx.post_package(sample("qcvn102-new-document.xml"), agency=THIRD)
    problem = assert_problem(response, 403)
    assert problem["element"] == "edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId"
    assert "000.00.00.H41" in problem["detail"] and THIRD in problem["detail"]
    assert edx.count(Document) == 0
    assert edx.stored_objects() == [] and edx.spooled_files() == []


def test_a_document_id_from_another_organ_is_carried(edx: EdxmlIngest) -> None:
    body = package_of(document_id="000.00.00.G01,2024/03/15,12/UBND-VP")
    answer = edx.post_package(body).get_json()
    assert answer["document_id"] == "000.00.00.G01,2024/03/15,12/UBND-VP"


def test_metadata_problems_name_their_element(edx: EdxmlIngest) -> None:
    meta = metadata(RECIPIENT)
    del meta["Subject"]
    meta["To"] = [{"OrganId": RECIPIENT}, {"OrganId": "999.99.99.Z99"}]
    problem = assert_problem(edx.post_package(package_of(meta)), 422)
    elements = {e["element"] for e in problem["errors"]}
    assert "edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject" in elements
    assert "edXML/edXMLEnvelope/edXMLHeader/MessageHeader/To[2]/OrganId" in elements
    assert edx.count(Document) == 0 and edx.stored_objects() == []


def test_a_json_document_exports_as_edxml_and_reads_back(edx: EdxmlIngest, tmp_path: Path) -> None:
    pdf = one_page_pdf("json")
    meta = {**metadata(RECIPIENT), "ToPlaces": {"Place": ["Như trên"]}, "Paper": 1}
    meta["OtherInfo"] = {"Priority": 3}
    posted = post_document(edx, pdf, meta).get_json()
    out = edx.client.get(f"/v1/documents/{posted['id']}/edxml", headers=edx.auth(RECIPIENT))
    assert out.status_code == 200
    assert f'xmlns:edXML="{QCVN_102}"'.encode() in out.data
    package = read_document(reread(tmp_path, out.data), EdxmlSettings(), tmp_path)
    assert package.document_id == posted["document_id"]
    assert [a.upload.sha256 for a in package.attachments] == [posted["sha256"]]
    stored = edx.client.get(f"/v1/documents/{posted['id']}", headers=edx.auth(SENDER)).get_json()
    again = check_metadata(package.metadata, SENDER, {RECIPIENT})
    assert again.normalized | {"TraceHeaderList": None} == stored["metadata"] | {
        "TraceHeaderList": None,
        "Bussiness": {"BussinessDocType": "0"},
    }
    # And posted as a package, the same document arrives.
    reposted = edx.post_package(out.data).get_json()
    assert reposted["sha256"] == posted["sha256"]
    assert reposted["document_id"] == posted["document_id"]


def test_an_edxml_document_reads_as_json(edx: EdxmlIngest) -> None:
    answer = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    doc = edx.client.get(f"/v1/documents/{answer['id']}", headers=edx.auth(SENDER)).get_json()
    assert doc["document_id"] == DOCUMENT_ID
    assert doc["metadata"]["Subject"].startswith("Về việc triển khai")
    assert doc["metadata"]["OtherInfo"]["Priority"] == 2
    assert doc["content_type"] == "application/pdf"
    pdf = edx.client.get(f"/v1/documents/{answer['id']}/content", headers=edx.auth(RECIPIENT))
    assert pdf.mimetype == "application/pdf" and pdf.data == one_page_pdf("Cong van so 12")


# --- take-backs and statuses -------------------------------------------------------------


def test_recall_update_and_replace(edx: EdxmlIngest) -> None:
    first = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    delivery = edx.deliver(first)
    recall = edx.post_package(sample("qcvn102-recall.xml"))
    assert recall.status_code == 200, recall.get_data(as_text=True)
    answer = recall.get_json()
    assert answer["action"] == "recall" and answer["id"] == first["id"]
    assert answer["deliveries"] == [
        {"OrganId": RECIPIENT, "delivery_id": delivery, "requested": True, "status": "13"}
    ]
    meta = {
        **metadata(RECIPIENT),
        "Bussiness": {"BussinessDocReason": "Sửa trích yếu", "DocumentId": DOCUMENT_ID},
    }
    meta["Code"] = {"CodeNumber": "13", "CodeNotation": "UBND-VP"}
    for doc_type, action in ((2, "update"), (3, "replace")):
        body = package_of(
            {**meta, "Bussiness": {**meta["Bussiness"], "BussinessDocType": str(doc_type)}},
            document_id=f"000.00.00.H41,2024/03/15,2{doc_type}/UBND-VP",
            doc_type=doc_type,
        )
        response = edx.post_package(body)
        assert response.status_code == 201, response.get_data(as_text=True)
        assert response.get_json()["action"] == action
        [_, *later] = edx.announced("document.received")
        assert later[-1]["payload"]["supersedes"] == first["id"]
        assert later[-1]["payload"]["business_doc_type"] == doc_type


def test_a_recall_of_an_unknown_document_names_it(edx: EdxmlIngest) -> None:
    problem = assert_problem(edx.post_package(sample("qcvn102-recall.xml")), 404)
    assert problem["element"].endswith("TraceHeaderList/Bussiness/DocumentId")


def _export_status(edx: EdxmlIngest, delivery: str, agency: str, tmp_path: Path) -> Any:
    out = edx.client.get(f"/v1/deliveries/{delivery}/status.edxml", headers=edx.auth(agency))
    assert out.status_code == 200, out.get_data(as_text=True)
    return read_status(reread(tmp_path, out.data))


@pytest.mark.parametrize(
    "codes",
    [["03", "04", "05", "06"], ["02"], ["RECALL", "15"], ["RECALL", "16"]],
)
def test_every_status_in_by_package_and_out_again(
    edx: EdxmlIngest, tmp_path: Path, codes: list[str]
) -> None:
    first = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    delivery = edx.deliver(first)
    for code in codes:
        if code == "RECALL":
            assert edx.post_package(sample("qcvn102-recall.xml")).status_code == 200
            exported = _export_status(edx, delivery, RECIPIENT, tmp_path)
            assert exported.status_code == Status.TAKE_BACK_REQUESTED.value
            assert exported.from_["OrganId"] == SENDER
            continue
        response = edx.post_package(status_of(code), agency=RECIPIENT)
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.get_json()
        assert (answer["action"], answer["code"], answer["recorded"]) == ("status", code, True)
        assert answer["delivery_id"] == delivery
        assert answer["timestamp"] == "2024-03-16T09:00:00+07:00"
        for agency in (SENDER, RECIPIENT):  # both ends see the same status package
            exported = _export_status(edx, delivery, agency, tmp_path)
            assert exported.status_code == code
            assert exported.description == f"status {code}"
            assert exported.staff == {"Staff": "Phạm Thị D"}
            assert exported.from_ == {"OrganId": RECIPIENT, "OrganName": "Văn phòng Chính phủ"}
            assert exported.response_for["DocumentId"] == DOCUMENT_ID


def test_the_status_sample_and_the_lifecycle_409(edx: EdxmlIngest) -> None:
    first = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    delivery = edx.deliver(first)
    response = edx.post_package(sample("qcvn102-status-03.xml"), agency=RECIPIENT)
    assert response.get_json()["status"] == "03"
    rejected = edx.post_package(status_of("02"), agency=RECIPIENT)
    assert_problem(rejected, 409, "transition_rejected")
    # 01 from a recipient's system confirms what the platform recorded; nothing changes.
    arrived = edx.post_package(status_of("01"), agency=RECIPIENT).get_json()
    assert (arrived["recorded"], arrived["status"]) == (False, "03")
    refused = assert_problem(edx.post_package(status_of("13"), agency=RECIPIENT), 422)
    assert refused["element"].endswith("MessageHeader/StatusCode")
    unknown = assert_problem(edx.post_package(status_of("77"), agency=RECIPIENT), 422)
    assert unknown["element"].endswith("MessageHeader/StatusCode")
    other = assert_problem(edx.post_package(status_of("03", "nope"), agency=RECIPIENT), 404)
    assert other["element"].endswith("ResponseFor/DocumentId")
    assert edx.routing.states[delivery].status == "03"


def test_content_type_and_size(edx: EdxmlIngest) -> None:
    wrong = edx.client.post(
        "/v1/edxml",
        data=json.dumps({"a": 1}),
        headers={**edx.auth(SENDER), "Content-Type": "application/json"},
    )
    assert_problem(wrong, 400)
    assert edx.count(DocumentAttachment) == 0


def test_a_declared_type_that_is_not_a_media_type_is_not_served(edx: EdxmlIngest) -> None:
    body = package_of(files={"ghi-chu.txt": ("text/plain&#13;&#10;Set-Cookie: a=b", b"ghi chu")})
    answer = edx.post_package(body).get_json()
    assert answer["attachments"][0]["content_type"] == "text/plain"  # guessed from the name
    got = edx.client.get(f"/v1/documents/{answer['id']}/attachments/1", headers=edx.auth(SENDER))
    assert got.mimetype == "text/plain" and "Set-Cookie" not in got.headers


def test_two_from_elements_are_refused(edx: EdxmlIngest) -> None:
    text = package_of({**metadata(RECIPIENT), "From": {"OrganId": SENDER}}).decode()
    first_from = text[text.index("<edXML:From>") : text.index("</edXML:From>") + 13]
    doubled = text.replace(first_from, first_from + first_from.replace(SENDER, THIRD), 1)
    problem = assert_problem(edx.post_package(doubled.encode()), 422)
    assert problem["element"] == "edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From"
    assert edx.count(Document) == 0


def test_an_update_sent_under_the_same_document_id(edx: EdxmlIngest) -> None:
    first = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    edx.deliver(first)
    meta = {**metadata(RECIPIENT), "Bussiness": {"BussinessDocType": "2"}}
    body = package_of(meta, document_id=DOCUMENT_ID, doc_type=2)
    response = edx.post_package(body)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["action"] == "update"
    latest = edx.announced("document.received")[-1]["payload"]
    assert latest["supersedes"] == first["id"] and latest["business_doc_type"] == 2
    # Without an earlier document under that DocumentId, it names nothing to update.
    other = package_of(meta, document_id="000.00.00.H41,2024/03/15,99/UBND-VP", doc_type=2)
    problem = assert_problem(edx.post_package(other), 422)
    assert problem["element"].endswith("TraceHeaderList/Bussiness/DocumentId")


def test_the_export_carries_the_document_as_signed_since(edx: EdxmlIngest, tmp_path: Path) -> None:
    answer = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    signed = one_page_pdf("signed by the platform since")
    upload = spool(io.BytesIO(signed), tmp_path / "in", len(signed))
    edx.ctx.store.put(upload)
    msg = DocumentSigned(
        document=answer["id"],
        version=2,
        sha256=upload.sha256,
        size=upload.size,
        previous_sha256=answer["sha256"],
        profile="organization",
        level="B-LT",
        field_name="org-1",
        certificate_serial="01",
        signer="CN=UBND",
        signed_at=datetime.now(UTC).isoformat(),
    )
    with edx.ctx.db.unit_of_work() as session:
        on_document_signed(session, msg, wrap(msg))
    out = edx.client.get(f"/v1/documents/{answer['id']}/edxml", headers=edx.auth(RECIPIENT))
    package = read_document(reread(tmp_path, out.data), EdxmlSettings(), tmp_path / "r")
    main, appendix = package.attachments
    assert main.upload.path.read_bytes() == signed  # the document as it now is
    assert appendix.upload.path.read_bytes().startswith(b"\xd0\xcf\x11\xe0")  # as it came


def test_an_outsider_sees_no_package_attachment_or_status(edx: EdxmlIngest) -> None:
    answer = edx.post_package(sample("qcvn102-new-document.xml")).get_json()
    delivery = edx.deliver(answer)
    edx.post_package(status_of("03"), agency=RECIPIENT)
    for path in (
        f"/v1/documents/{answer['id']}/edxml",
        f"/v1/documents/{answer['id']}/attachments/1",
        f"/v1/deliveries/{delivery}/status.edxml",
    ):
        assert_problem(edx.client.get(path, headers=edx.auth(OLD_CODE)), 403)
        assert edx.client.get(path, headers=edx.auth(RECIPIENT)).status_code == 200
    missing = edx.client.get(
        f"/v1/documents/{answer['id']}/attachments/9", headers=edx.auth(RECIPIENT)
    )
    assert_problem(missing, 404)

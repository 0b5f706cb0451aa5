"""Updates and replacements name what they supersede; an accepted recall leaves the active
inbox; agencies carry their official mailbox to routing."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.contract import Status
from services.common.errors import ValidationFailed
from services.common.internal_api import StatusReport
from services.ingest.agencies import add_agency
from tests.unit.ingest.test_api import (
    FOUR_PAGES,
    RECIPIENT,
    SENDER,
    THIRD,
    Ingest,
    _dispatch,
    _inbox,
    _report,
    assert_problem,
    ingest,  # the fixture, shared with the API tests
    metadata,
    post_document,
)

__all__ = ["ingest"]  # re-exported so pytest finds the fixture here


def _update_of(document_id: str, doc_type: int = 2, number: str = "13") -> dict[str, Any]:
    meta = metadata(RECIPIENT)
    meta["Code"]["CodeNumber"] = number
    meta["Bussiness"] = {
        "BussinessDocType": doc_type,
        "DocumentId": document_id,
        "BussinessDocReason": "Đính chính",
    }
    return meta


def test_an_update_names_the_document_it_supersedes(ingest: Ingest) -> None:
    pdf = FOUR_PAGES.read_bytes()
    old = post_document(ingest, pdf, metadata(RECIPIENT)).get_json()
    _dispatch(ingest, old)
    new = post_document(ingest, pdf + b"\n", _update_of(old["document_id"])).get_json()
    new_delivery = _dispatch(ingest, new)
    items = {i["id"]: i for i in _inbox(ingest, RECIPIENT)}
    assert items[old["id"]]["superseded_by"] == new["id"]
    assert items[new["id"]]["supersedes"] == old["id"]
    assert new_delivery


def test_an_update_of_an_unknown_or_foreign_document_is_refused(ingest: Ingest) -> None:
    pdf = FOUR_PAGES.read_bytes()
    response = post_document(ingest, pdf, _update_of(f"{SENDER},2024/03/15,99/UBND"))
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "Bussiness.DocumentId"
    theirs = post_document(ingest, pdf, metadata(RECIPIENT), agency=SENDER).get_json()
    meta = _update_of(theirs["document_id"])
    meta["To"] = [{"OrganId": SENDER}]
    assert_problem(post_document(ingest, pdf, meta, agency=THIRD), 422)


def test_a_recall_is_not_posted_as_a_document(ingest: Ingest) -> None:
    response = post_document(ingest, FOUR_PAGES.read_bytes(), _update_of("x", doc_type=1))
    problem = assert_problem(response, 422)
    assert "recall" in problem["errors"][0]["message"]


def test_an_accepted_recall_leaves_the_active_inbox(ingest: Ingest) -> None:
    doc = post_document(ingest, FOUR_PAGES.read_bytes(), metadata(RECIPIENT)).get_json()
    delivery = _dispatch(ingest, doc)
    assert _report(ingest, delivery, "03").status_code == 200
    # The sender's 13 (through routing), then the recipient agrees (15).
    ingest.routing.report_status(
        delivery, StatusReport(code=Status.TAKE_BACK_REQUESTED, reported_by=SENDER)
    )
    assert _report(ingest, delivery, "15").status_code == 200
    assert [i["id"] for i in _inbox(ingest, RECIPIENT)] == []
    taken_back = _inbox(ingest, RECIPIENT, "?view=all")
    assert [(i["id"], i["status"]) for i in taken_back] == [(doc["id"], "15")]


def test_an_agency_carries_its_mailbox(ingest: Ingest) -> None:
    add_agency(ingest.ctx.db, "000.00.05.H41", "Sở Y tế", email="soyte@nghean.gov.vn")
    registered = ingest.announced("agency.registered")[-1]
    assert registered["version"] == 2 and registered["payload"]["email"] == "soyte@nghean.gov.vn"
    for bad in ("not-an-address", "a@b.vn\r\nBcc: x@y.vn", "a@b.vn, c@d.vn"):
        with pytest.raises(ValidationFailed):
            add_agency(ingest.ctx.db, "000.00.06.H41", "Sở X", email=bad)


def test_the_announcement_carries_the_checked_fields(ingest: Ingest) -> None:
    """DocumentReceived v2: routing reads these instead of parsing the metadata again."""
    pdf = FOUR_PAGES.read_bytes()
    old = post_document(ingest, pdf, metadata(RECIPIENT)).get_json()
    new = post_document(ingest, pdf + b"\n", _update_of(old["document_id"])).get_json()
    payloads = {
        a["payload"]["document"]: a["payload"] for a in ingest.announced("document.received")
    }
    first, update = payloads[old["id"]], payloads[new["id"]]
    assert (first["supersedes"], first["business_doc_type"], first["business_reason"]) == (
        None,
        0,
        "",
    )
    assert (update["supersedes"], update["business_doc_type"]) == (old["id"], 2)
    assert update["business_reason"] == "Đính chính"
    assert (update["due_date"], update["priority"], update["paper"]) == ("2024-03-30", 0, 0)
    assert update["subject"] == "Về việc triển khai dịch vụ công"

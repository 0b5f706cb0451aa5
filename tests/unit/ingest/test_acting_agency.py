"""What the web app uses at ingest: acting for an agency with the service token (and
only with it), the inbox filters, and the registry listing."""

from __future__ import annotations

from tests.unit.ingest.test_api import (
    RECIPIENT,
    SENDER,
    SMALL_PDF,
    THIRD,
    Ingest,
    _dispatch,
    _inbox,
    ingest,
    metadata,
    post_document,
)

__all__ = ["ingest"]
PDF = SMALL_PDF.read_bytes()


def _as(ingest: Ingest, agency: str, token: str | None = None) -> dict[str, str]:
    token = token or ingest.ctx.settings.common.service_token
    return {"Authorization": f"Bearer {token}", "X-Acting-Agency": agency}


def test_the_service_token_acts_for_a_registered_agency(ingest: Ingest) -> None:
    sent = post_document(ingest, PDF, metadata(), headers=_as(ingest, SENDER))
    assert sent.status_code == 201, sent.get_json()
    doc = sent.get_json()
    read = ingest.client.get(f"/v1/documents/{doc['id']}", headers=_as(ingest, SENDER))
    assert read.status_code == 200 and read.get_json()["from"] == SENDER
    # acting for a third agency gives it no more than that agency's own key would
    stranger = ingest.client.get(f"/v1/documents/{doc['id']}", headers=_as(ingest, THIRD))
    assert stranger.status_code in (403, 404)


def test_acting_needs_the_service_token_and_a_registered_agency(ingest: Ingest) -> None:
    with_key = ingest.client.get("/v1/inbox", headers=_as(ingest, RECIPIENT, ingest.keys[SENDER]))
    assert with_key.status_code == 401
    unknown = ingest.client.get("/v1/inbox", headers=_as(ingest, "000.00.99.Z99"))
    assert unknown.status_code == 401


def test_the_inbox_filters(ingest: Ingest) -> None:
    first = post_document(ingest, PDF, metadata(subject="Về việc cấp phép")).get_json()
    second = post_document(ingest, PDF, metadata(subject="Về ngân sách")).get_json()
    _dispatch(ingest, first)
    _dispatch(ingest, second)
    assert len(_inbox(ingest, RECIPIENT)) == 2
    found = _inbox(ingest, RECIPIENT, "?q=ngân sách")
    assert [i["id"] for i in found] == [second["id"]]
    assert len(_inbox(ingest, RECIPIENT, f"?from={SENDER}")) == 2
    assert _inbox(ingest, RECIPIENT, f"?from={THIRD}") == []
    assert _inbox(ingest, RECIPIENT, "?since=2999-01-01") == []
    assert len(_inbox(ingest, RECIPIENT, "?until=2999-01-01")) == 2
    assert _inbox(ingest, RECIPIENT, "?overdue=1") == []
    bad = ingest.client.get("/v1/inbox?since=yesterday", headers=ingest.auth(RECIPIENT))
    assert bad.status_code == 400


def test_the_registry_lists_every_agency(ingest: Ingest) -> None:
    answer = ingest.client.get("/v1/agencies", headers=ingest.auth(SENDER))
    assert answer.status_code == 200
    codes = {a["code"] for a in answer.get_json()["items"]}
    assert {SENDER, RECIPIENT, THIRD} <= codes

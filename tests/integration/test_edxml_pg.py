"""edXML packages on real PostgreSQL: the same package posted at once from several
clients with one Idempotency-Key becomes one document (the losers of the race get the
winner's answer), and the key reused for another package is a 409 that stores nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from services.common.wiring import context_of, migrate
from services.ingest.agencies import add_agency, create_api_key
from services.ingest.app import create_app
from services.ingest.context import IngestContext
from services.ingest.edxml.emit import OutgoingAttachment, document_package
from services.ingest.models import Document, DocumentAttachment
from services.ingest.settings import IngestSettings
from testkit.pdfs import one_page_pdf

pytestmark = pytest.mark.integration

SENDER, RECIPIENT = "000.00.00.H41", "000.00.01.H41"
CLIENTS = 8


def _package(number: str, appendix: bytes) -> bytes:
    meta: dict[str, object] = {
        "From": {"OrganId": SENDER},
        "To": [{"OrganId": RECIPIENT}],
        "Code": {"CodeNumber": number, "CodeNotation": "UBND-VP"},
        "PromulgationInfo": {"Place": "Nghệ An", "PromulgationDate": "2026/11/21"},
        "DocumentType": {"Type": "1", "TypeName": "Công văn"},
        "Subject": "Về việc thử đồng thời",
        "SignerInfo": {"FullName": "Nguyễn Văn An"},
    }
    return b"".join(
        document_package(
            meta,
            document_id=f"{SENDER},2026/11/21,{number}/UBND-VP",
            business_doc_type=0,
            trace=[],
            attachments=[
                OutgoingAttachment("cong-van.pdf", "application/pdf", "a", "", [one_page_pdf()]),
                OutgoingAttachment("phu-luc.doc", "application/msword", "b", "", [appendix]),
            ],
        )
    )


@pytest.fixture
def app(tmp_path: Path, pg_urls: dict[str, str]) -> Iterator[tuple[Flask, str]]:
    settings = IngestSettings.from_env(
        {
            "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
            "LIENTHONG_BROKER_URL": "memory://",
            "LIENTHONG_INGEST_DATABASE_URL": pg_urls["ingest"],
        }
    )
    migrate("ingest", settings.database_url)
    flask_app = create_app(settings)
    ctx = context_of(flask_app, IngestContext)
    for code in (SENDER, RECIPIENT):
        add_agency(ctx.db, code, code)
    yield flask_app, create_api_key(ctx.db, SENDER, label="pg")
    ctx.db.dispose()


def _count(flask_app: Flask, table: Any) -> int:
    with context_of(flask_app, IngestContext).db.reading() as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_one_key_one_document_however_many_clients_race(app: tuple[Flask, str]) -> None:
    flask_app, key = app
    body = _package("31", b"\xd0\xcf\x11\xe0 phu luc")
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/xml",
        "Idempotency-Key": "race-31",
    }
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def post() -> None:
        client = flask_app.test_client()
        start.wait()
        response = client.post("/v1/edxml", data=body, headers=headers)
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _ in answers) == [200] * (CLIENTS - 1) + [201], answers
    assert len({answer["id"] for _, answer in answers}) == 1
    assert _count(flask_app, Document) == 1
    assert _count(flask_app, DocumentAttachment) == 2

    other = flask_app.test_client().post(
        "/v1/edxml", data=_package("32", b"\xd0\xcf\x11\xe0 khac"), headers=headers
    )
    assert other.status_code == 409, other.get_data(as_text=True)
    assert _count(flask_app, Document) == 1
    assert _count(flask_app, DocumentAttachment) == 2

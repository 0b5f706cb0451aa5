"""Hostile edXML packages against the running services: entity expansion, external
entities, deep nesting, zip bombs (one entry expanding to a gigabyte), ``../`` entries,
bad base64, a gigabyte declared or streamed. Each is refused with a 4xx naming the
element, within the budget, storing nothing, with every process under the RSS limit
(checked by the suite's conftest); an ordinary package still goes through."""

from __future__ import annotations

import base64
import io
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from services.ingest.edxml.emit import OutgoingAttachment, document_package
from testkit.hostile import GRACE_SECONDS, PLAIN_BUDGET_SECONDS, MiB
from testkit.official_doc import official_letter
from testkit.stack import metadata_to

from .conftest import RECIPIENT, SENDER, AbuseStack, no_server_error

pytestmark = pytest.mark.abuse

BUDGET = PLAIN_BUDGET_SECONDS + GRACE_SECONDS
NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
ATTACHMENT_1 = "edXML/AttachmentEncoded/Attachment[1]"


def package(
    number: str, content: str, name: str = "cong-van.pdf", kind: str = "application/pdf"
) -> bytes:
    """A package from SENDER to RECIPIENT whose one attachment carries ``content`` as its
    base64 text (whatever that is)."""
    meta = {**metadata_to(RECIPIENT, number=number), "From": {"OrganId": SENDER}}
    text = b"".join(
        document_package(
            meta,
            document_id=f"{SENDER},2026/11/21,{number}/UBND-VP",
            business_doc_type=0,
            trace=[],
            attachments=[OutgoingAttachment(name, kind, "c1", "", [b"@"])],
        )
    ).decode()
    start = text.index("<edXML:Content>") + len("<edXML:Content>")
    return (text[:start] + content + text[text.index("</edXML:Content>") :]).encode()


def _zip(entries: dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return base64.b64encode(buf.getvalue()).decode()


def _gigabyte_zip() -> str:
    """One entry of 1 GiB of zeros, deflated (about 1 MiB), made without holding it."""
    buf = io.BytesIO()
    info = zipfile.ZipInfo("bomb.doc")
    info.compress_type = zipfile.ZIP_DEFLATED
    with (
        zipfile.ZipFile(buf, "w") as zf,
        zf.open(info, "w", force_zip64=True) as entry,
    ):
        block = b"\0" * MiB
        for _ in range(1024):
            entry.write(block)
    return base64.b64encode(buf.getvalue()).decode()


def post(abuse: AbuseStack, body: bytes | Iterator[bytes], **headers: str) -> requests.Response:
    started = time.monotonic()
    response = abuse.sender.http.post(
        f"{abuse.url('ingest')}/v1/edxml",
        data=body,
        headers={"Content-Type": "application/xml", **headers},
        timeout=BUDGET,
    )
    assert time.monotonic() - started < BUDGET
    return no_server_error(response)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + f']><edXML xmlns="{NS}"><Subject>&j;</Subject></edXML>'
)
HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "billion-laughs": (LAUGHS.encode(), 422, "DOCTYPE"),
    "external-entity": (
        b'<!DOCTYPE edXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + f'<edXML xmlns="{NS}">&x;</edXML>'.encode(),
        422,
        "DOCTYPE",
    ),
    "nested-10000": (
        (f'<edXML xmlns="{NS}">' + "<a>" * 10_000 + "</a>" * 10_000 + "</edXML>").encode(),
        422,
        "edXML/a/a/a",
    ),
    "bad-base64": (package("1", "not*base64"), 422, ATTACHMENT_1),
    "zip-traversal": (
        package("2", _zip({"../../etc/cron.d/x": b"x"}), "p.zip", "application/zip"),
        422,
        ATTACHMENT_1,
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_packages_are_refused_and_nothing_is_stored(abuse: AbuseStack, case: str) -> None:
    body, status, element = HOSTILE[case]
    before = abuse.settled()
    response = post(abuse, body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["element"].startswith(element), problem
    assert abuse.settled() == before


def test_a_gigabyte_zip_bomb(abuse: AbuseStack) -> None:
    bomb = _gigabyte_zip()
    assert len(bomb) < 2 * MiB
    before = abuse.settled()
    response = post(abuse, package("3", bomb, "phu-luc.zip", "application/zip"))
    assert response.status_code in (413, 422), response.text
    assert response.json()["element"].startswith(ATTACHMENT_1), response.text
    assert abuse.settled() == before


def _streamed(total: int) -> Iterator[bytes]:
    head = package("4", "@").split(b"@")[0]  # the package up to its attachment's content
    yield head
    block = b"QUFB" * (64 * 1024)
    for _ in range(total // len(block)):
        yield block


def test_a_gigabyte_streamed_is_cut_off(abuse: AbuseStack) -> None:
    before = abuse.settled()
    response = post(abuse, _streamed(1024 * MiB))  # chunked: no Content-Length
    assert response.status_code == 413
    assert abuse.settled() == before


def test_an_ordinary_package_still_travels(abuse: AbuseStack) -> None:
    pdf = base64.b64encode(official_letter()).decode()
    response = post(abuse, package(abuse.next_number(), pdf))
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    assert abuse.arrives(answer["id"])["from"] == SENDER

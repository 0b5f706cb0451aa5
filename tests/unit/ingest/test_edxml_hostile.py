"""Hostile packages, each refused with a problem+json naming the element, and nothing
stored: no document, no object, no spool file, nothing in the outbox."""

from __future__ import annotations

import base64
import io
import json
import socket
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from services.ingest.models import BUS, Document
from testkit.pdfs import one_page_pdf
from tests.unit.ingest.edxml_kit import EdxmlIngest, SigningPki, edx, make_ingest, test_pki
from tests.unit.ingest.test_api import MAX_UPLOAD, PASSWORD_PDF, SENDER, assert_problem
from tests.unit.ingest.test_edxml_api import package_of
from tests.unit.ingest.test_upload_limits import Server

__all__ = ["edx", "test_pki"]

MiB = 1024 * 1024
GiB = 1024 * MiB
ATTACHMENT_1 = "edXML/AttachmentEncoded/Attachment[1]"
PDF_B64 = base64.b64encode(one_page_pdf()).decode()


def refused(
    edx: EdxmlIngest, body: bytes, status: int, element: str | None = None
) -> dict[str, Any]:
    outbox = edx.count(BUS.outbox)
    problem = assert_problem(edx.post_package(body), status)
    if element is not None:
        assert problem["element"] == element, problem
    assert edx.count(Document) == 0
    assert edx.count(BUS.outbox) == outbox
    assert edx.stored_objects() == []
    assert edx.spooled_files() == []
    return problem


def with_attachment(
    content: str, name: str = "cong-van.pdf", kind: str = "application/pdf"
) -> bytes:
    """A valid package whose one attachment carries ``content`` as its base64 text."""
    text = package_of().decode()
    start = text.index("<edXML:Content>") + len("<edXML:Content>")
    end = text.index("</edXML:Content>")
    text = text[:start] + content + text[end:]
    return text.replace("cong-van.pdf", name).replace("application/pdf", kind).encode()


def zipped(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return base64.b64encode(buf.getvalue()).decode()


# --- DTDs and entities ---------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE edXML [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><Subject>&lol9;</Subject></edXML>
"""
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE edXML [<!ENTITY a "'
    + "x" * 50_000
    + '">]>\n<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><Subject>'
    + "&a;" * 10_000
    + "</Subject></edXML>"
)
EXTERNAL_FILE = """<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><Subject>&xxe;</Subject></edXML>
"""
EXTERNAL_HTTP = """<?xml version="1.0"?>
<!DOCTYPE edXML SYSTEM "http://127.0.0.1:9/evil.dtd">
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><Subject>&xxe;</Subject></edXML>
"""
PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>
"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, QUADRATIC, EXTERNAL_FILE, EXTERNAL_HTTP, PARAMETER_ENTITY],
    ids=["billion-laughs", "quadratic", "external-file", "external-http", "parameter-entity"],
)
def test_dtds_and_entities_are_refused(edx: EdxmlIngest, body: str) -> None:
    problem = refused(edx, body.encode(), 422, "DOCTYPE")
    assert "DTD" in problem["detail"]


def test_an_undeclared_entity_is_not_xml(edx: EdxmlIngest) -> None:
    text = package_of().decode().replace("Về việc", "&xxe; Về việc", 1)
    problem = refused(edx, text.encode(), 422)
    assert problem["element"].endswith("MessageHeader/Subject")


def test_a_package_nested_ten_thousand_deep(edx: EdxmlIngest) -> None:
    body = (
        '<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
        + "<a>" * 10_000
        + "</a>" * 10_000
        + "</edXML>"
    )
    problem = refused(edx, body.encode(), 422)
    assert "nested more than 64 deep" in problem["detail"]
    assert problem["element"].startswith("edXML/a/a/a")


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (b"", "edXML"),
        (b"<html><body>hi</body></html>", "html"),
        (b'<edXML xmlns="urn:other"/>', "edXML"),
        (b'<edXML xmlns="http://www.go.vn/eDoc"><edXMLEnvelope>', "edXML/edXMLEnvelope"),
    ],
    ids=["empty", "not-edxml", "foreign-namespace", "truncated"],
)
def test_what_is_not_a_package(edx: EdxmlIngest, body: bytes, element: str) -> None:
    refused(edx, body, 422, element)


# --- attachments -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    ["not*base64!", PDF_B64[:-1], PDF_B64 + "QUJD", "QUI=QUJD", "Tiếng Việt"],
    ids=["alphabet", "truncated", "after-padding", "padding-inside", "non-ascii"],
)
def test_malformed_base64(edx: EdxmlIngest, content: str) -> None:
    problem = refused(edx, with_attachment(content), 422, ATTACHMENT_1)
    assert "base64" in problem["detail"]


def test_an_empty_attachment(edx: EdxmlIngest) -> None:
    refused(edx, with_attachment("  \n "), 422, ATTACHMENT_1)


def test_zip_path_traversal(edx: EdxmlIngest) -> None:
    for name in (
        "../../etc/cron.d/evil",
        "/etc/passwd",
        "a/../../b.doc",
        "C:/x.doc",
        "a\\..\\..\\b",
    ):
        content = zipped({"ok.doc": b"fine", name: b"evil"})
        problem = refused(edx, with_attachment(content, "phu-luc.zip", "application/zip"), 422)
        assert problem["element"] == ATTACHMENT_1
        assert "leaves the archive's folder" in problem["detail"]


def test_a_zip_bomb(tmp_path: Path, test_pki: SigningPki) -> None:
    # Attachments may be large here: it is the ratio that stops the bomb, early.
    edx = make_ingest(tmp_path, test_pki, {"LIENTHONG_EDXML_MAX_ATTACHMENT_BYTES": str(GiB)})
    try:
        bomb = zipped({"bomb.doc": b"\0" * (64 * MiB)})
        assert len(bomb) < 200_000
        problem = refused(edx, with_attachment(bomb, "phu-luc.zip", "application/zip"), 422)
        assert problem["element"] == f"{ATTACHMENT_1}[bomb.doc]"
        assert "zip bomb" in problem["detail"]
    finally:
        edx.ctx.db.dispose()


def test_a_zip_member_beyond_the_attachment_limit(edx: EdxmlIngest) -> None:
    content = zipped({"big.doc": bytes(range(256)) * (MAX_UPLOAD // 256 + 10)})
    problem = refused(edx, with_attachment(content, "phu-luc.zip", "application/zip"), 413)
    assert problem["element"] == f"{ATTACHMENT_1}[big.doc]"


def test_a_broken_or_encrypted_zip(edx: EdxmlIngest) -> None:
    broken = base64.b64encode(b"PK\x03\x04" + b"\0" * 64).decode()
    refused(edx, with_attachment(broken, "phu-luc.zip", "application/zip"), 422, ATTACHMENT_1)
    raw = bytearray(base64.b64decode(zipped({"a.doc": b"x" * 100}, zipfile.ZIP_STORED)))
    raw[6] |= 1  # the local header's "encrypted" flag
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 1  # and the central directory's
    content = base64.b64encode(bytes(raw)).decode()
    problem = refused(edx, with_attachment(content, "p.zip", "application/zip"), 422)
    assert "encrypted" in problem["detail"]


def test_a_decoded_attachment_beyond_the_limit(edx: EdxmlIngest) -> None:
    big = base64.b64encode(b"%PDF-" + b"x" * (MAX_UPLOAD + 10)).decode()
    problem = refused(edx, with_attachment(big), 413, ATTACHMENT_1)
    assert str(MAX_UPLOAD) in problem["detail"]


class LazyPackage(io.RawIOBase):
    """A package whose one attachment claims a gigabyte, made as it is read."""

    def __init__(self, size: int) -> None:
        text = package_of().decode()
        cut = text.index("<edXML:Content>") + len("<edXML:Content>")
        self.head = text[:cut].encode()
        self.left = size
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            piece, self.head = self.head[: len(buffer)], self.head[len(buffer) :]
        elif self.left > 0:
            piece = b"QUFB" * min(len(buffer) // 4, self.left // 4)
            self.left -= len(piece)
        else:
            return 0
        buffer[: len(piece)] = piece
        self.produced += len(piece)
        return len(piece)


def test_a_gigabyte_attachment_is_streamed_not_loaded(edx: EdxmlIngest) -> None:
    stream = LazyPackage(GiB)
    response = edx.client.post(
        "/v1/edxml",
        headers={**edx.auth(SENDER), "Content-Type": "application/xml"},
        environ_overrides={  # no Content-Length: streamed, as a chunked request arrives
            "wsgi.input": io.BufferedReader(stream),
            "wsgi.input_terminated": True,
            "HTTP_TRANSFER_ENCODING": "chunked",
        },
    )
    problem = assert_problem(response, 413)
    assert problem["element"] == "edXML"
    assert stream.produced < 4 * MiB  # read up to the package limit, then refused
    assert edx.count(Document) == 0 and edx.stored_objects() == [] and edx.spooled_files() == []


def _refused_from_headers(port: int, head: bytes) -> tuple[int, dict[str, Any]]:
    """Send a request head only, and read the whole answer (the server closes after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head_part, _, body = answer.partition(b"\r\n\r\n")
    return int(head_part.split(b" ", 2)[1]), json.loads(body)


def test_a_gigabyte_declared_is_refused_before_its_body(edx: EdxmlIngest, tmp_path: Path) -> None:
    running = Server(edx, tmp_path)
    try:
        head = (
            "POST /v1/edxml HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/xml\r\n"
            f"Authorization: Bearer {edx.keys[SENDER]}\r\nContent-Length: {GiB}\r\n\r\n"
        )
        status, problem = _refused_from_headers(running.port, head.encode())
    finally:
        running.close()
    assert status == 413
    assert problem["element"] == "edXML"
    assert edx.count(Document) == 0 and edx.spooled_files() == []


def test_reading_a_large_package_holds_little_memory(tmp_path: Path, test_pki: SigningPki) -> None:
    size = 24 * MiB
    env = {"LIENTHONG_MAX_UPLOAD_BYTES": str(64 * MiB)}
    edx = make_ingest(tmp_path, test_pki, env)
    try:
        payload = bytes(range(256)) * (size // 256)
        body = package_of(files={"ke-hoach.doc": ("application/msword", payload)})
        tracemalloc.start()
        response = edx.post_package(body)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        edx.ctx.db.dispose()
    assert response.status_code == 201, response.get_data(as_text=True)
    # The package is ~32 MiB of base64 and the attachment 24 MiB: neither is held whole.
    assert peak < 8 * MiB, peak


def _deflate_ratio() -> float:
    data = b"\0" * MiB
    return len(data) / len(zlib.compress(data))


def test_the_bomb_test_is_a_bomb() -> None:
    assert _deflate_ratio() > 200  # what test_a_zip_bomb relies on


def test_an_encrypted_pdf_attachment_is_named(edx: EdxmlIngest) -> None:
    body = package_of(
        files={
            "ghi-chu.txt": ("text/plain", b"ghi chu"),
            "mat.pdf": ("application/pdf", PASSWORD_PDF.read_bytes()),
        }
    )
    problem = refused(edx, body, 422, "edXML/AttachmentEncoded/Attachment[2]")
    assert problem["code"] == "encrypted_pdf"
    assert problem["errors"][0]["element"] == "edXML/AttachmentEncoded/Attachment[2]"


def test_a_zip_whose_headers_lie_about_the_size(edx: EdxmlIngest) -> None:
    raw = bytearray(base64.b64decode(zipped({"lie.doc": b"\0" * (8 * MiB)})))
    raw[22:26] = (10).to_bytes(4, "little")  # the local header's uncompressed size
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")  # and the directory's
    content = base64.b64encode(bytes(raw)).decode()
    problem = refused(edx, with_attachment(content, "phu-luc.zip", "application/zip"), 422)
    assert problem["element"] == f"{ATTACHMENT_1}[lie.doc]"
    assert "cannot be unzipped" in problem["detail"]


def test_the_files_of_one_zip_share_the_attachment_limit(edx: EdxmlIngest) -> None:
    half = bytes(range(256)) * (MAX_UPLOAD // 2 // 256 + 10)  # each under, both over
    content = zipped({"a.doc": half, "b.doc": half})
    problem = refused(edx, with_attachment(content, "phu-luc.zip", "application/zip"), 413)
    assert problem["element"] == f"{ATTACHMENT_1}[b.doc]"

"""Reading and writing edXML packages (no app): the samples, both namespaces, the
DocumentId form, Vietnam time, and emit → read round trips for every package kind and
every status code."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.contract import Status
from services.common.errors import LienThongError
from services.ingest.edxml.emit import OutgoingAttachment, document_package, status_package
from services.ingest.edxml.model import (
    VIETNAM,
    DocumentPackage,
    format_timestamp,
    parse_document_id,
    parse_timestamp,
)
from services.ingest.edxml.parse import is_status, read_document, read_status
from services.ingest.edxml.safexml import GO_VN, QCVN_102, read_package
from services.ingest.settings import EdxmlSettings
from services.ingest.validation import check_metadata
from testkit.pdfs import one_page_pdf
from tests.unit.ingest.edxml_kit import OLD_CODE, TENANT, sample

LIMITS = EdxmlSettings()


def read(tmp_path: Path, data: bytes) -> DocumentPackage:
    path = tmp_path / "package.xml"
    path.write_bytes(data)
    raw = read_package(path, LIMITS, tmp_path / "spool")
    assert not is_status(raw)
    return read_document(raw, LIMITS, tmp_path / "spool")


def test_the_qcvn_102_sample(tmp_path: Path) -> None:
    package = read(tmp_path, sample("qcvn102-new-document.xml"))
    meta = package.metadata
    assert package.namespace == QCVN_102
    assert package.document_id == "000.00.00.H41,2024/03/15,12/UBND-VP"
    assert package.business_doc_type == "0"
    assert meta["To"] == [
        {"OrganId": "000.00.00.G22", "OrganName": "Văn phòng Chính phủ"},
        {"OrganId": "001.00.99.H44", "OrganName": "Sở Nội vụ"},
    ]
    assert meta["Subject"] == "Về việc triển khai dịch vụ công trực tuyến <toàn trình> & một phần"
    assert meta["Content"] == "Đề nghị các đơn vị triển khai."  # whitespace trimmed
    assert meta["ToPlaces"] == {"Place": ["Như trên", "Lưu: VT, TH"]}
    assert meta["Paper"] == "1"
    assert "Fax" not in meta["From"]  # type: ignore[operator]  # an empty element is missing
    assert meta["Bussiness"]["StaffInfo"]["Staff"] == "Trần Thị B"  # type: ignore[index]
    # The PDF, and the .doc that came zipped: unzipped, carried with its own name.
    pdf, doc = package.attachments
    assert (pdf.name, pdf.content_type, pdf.description) == (
        "12-UBND-VP.pdf",
        "application/pdf",
        "Công văn",
    )
    assert pdf.upload.path.read_bytes() == one_page_pdf("Cong van so 12")
    assert (doc.name, doc.content_type, doc.archive) == (
        "phu-luc-1.doc",
        "application/msword",
        "phu-luc.zip",
    )
    assert doc.upload.path.read_bytes().startswith(b"\xd0\xcf\x11\xe0")
    checked = check_metadata(meta, "000.00.00.H41", {"000.00.00.G22", "001.00.99.H44"})
    assert (checked.priority, checked.steering_type, checked.paper) == (2, 1, 1)
    assert checked.due_date == date(2024, 3, 30)
    assert checked.document_id("000.00.00.H41") == package.document_id
    package.discard()


def test_the_messy_go_vn_sample(tmp_path: Path) -> None:
    package = read(tmp_path, sample("go-vn-messy-no-pdf.xml"))
    meta = package.metadata
    assert package.namespace == GO_VN
    assert package.document_id == "6f1c2d9e-4b7a-4c1e-9a0b-3e2f1d0c9b8a"  # carried as it is
    assert parse_document_id(package.document_id) is None
    assert meta["From"] == {"OrganId": "28.22.H17", "OrganName": "UBND xã Tân Lập (mã cũ)"}
    assert meta["To"] == [{"OrganId": TENANT}]
    assert meta["Subject"] == "Giấy mời họp giao ban"
    assert "DueDate" not in meta and "OtherInfo" not in meta  # empty: as if missing
    assert meta["TraceHeaderList"] == {
        "TraceHeader": [{"OrganId": OLD_CODE, "Timestamp": "2024/03/18 14:05:09"}]
    }
    txt, doc = package.attachments
    assert (txt.name, txt.content_type, txt.content_id) == (
        "giay-moi.txt",
        "text/plain",
        "giay-moi",
    )
    assert txt.upload.path.read_text("utf-8").startswith("Giấy mời họp")
    assert (doc.name, doc.content_type) == ("ke-hoach.doc", "application/msword")
    checked = check_metadata(meta, OLD_CODE, {TENANT})
    assert checked.promulgation_date == date(2024, 3, 18)  # 2024/3/18
    assert (checked.priority, checked.paper) == (0, 0)
    package.discard()


def test_without_the_prefix_and_with_attachments_inside_the_envelope(tmp_path: Path) -> None:
    prefixed = sample("qcvn102-new-document.xml").decode()
    plain = prefixed.replace("edXML:", "").replace("xmlns:edXML=", "xmlns=")
    inside = plain.replace("  </edXMLEnvelope>\n", "").replace(
        "</edXML>", "</edXMLEnvelope>\n</edXML>"
    )
    for variant in (plain, inside):
        package = read(tmp_path, variant.encode())
        assert package.metadata == read(tmp_path, prefixed.encode()).metadata
        assert [a.name for a in package.attachments] == ["12-UBND-VP.pdf", "phu-luc-1.doc"]


def test_the_document_id_form() -> None:
    parts = parse_document_id("000.00.00.G22,2015/09/30,7816/VPCP-TTĐT")
    assert parts is not None
    assert (parts.organ, parts.day, parts.number, parts.notation) == (
        "000.00.00.G22",
        date(2015, 9, 30),
        "7816",
        "VPCP-TTĐT",
    )
    assert str(parts) == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert str(parse_document_id(" 28.22.H17 , 2024/3/5 , 45 / GM/UBND ")) == (
        "28.22.H17,2024/03/05,45/GM/UBND"
    )
    for other in ("6f1c2d9e-4b7a-4c1e-9a0b-3e2f1d0c9b8a", "", "a,b,c", "x,2024/13/40,1/A"):
        assert parse_document_id(other) is None


def test_timestamps_are_vietnam_time() -> None:
    moment = parse_timestamp("2024/03/16 09:15:00")
    assert moment == datetime(2024, 3, 16, 2, 15, tzinfo=UTC)
    assert moment is not None and moment.utcoffset() == VIETNAM.utcoffset(None)
    assert format_timestamp(datetime(2024, 3, 16, 2, 15, tzinfo=UTC)) == "2024/03/16 09:15:00"
    assert parse_timestamp("2024-03-16T09:15:00+07:00") == moment
    assert parse_timestamp("16/03/2024") is None


def test_a_missing_code_is_taken_from_the_document_id(tmp_path: Path) -> None:
    text = sample("qcvn102-new-document.xml").decode()
    start, end = text.index("        <edXML:Code>"), text.index("        <edXML:PromulgationInfo>")
    package = read(tmp_path, (text[:start] + text[end:]).encode())
    assert package.metadata["Code"] == {"CodeNumber": "12", "CodeNotation": "UBND-VP"}
    package.discard()


# --- emit → read ------------------------------------------------------------------------

METADATA: dict[str, object] = {
    "From": {"OrganId": "000.00.00.H41", "OrganName": 'UBND tỉnh <Quảng Ninh> & "VP"'},
    "To": [{"OrganId": "000.00.00.G22"}, {"OrganId": "001.00.99.H44"}],
    "Code": {"CodeNumber": "12", "CodeNotation": "UBND-VP"},
    "PromulgationInfo": {"Place": "Quảng Ninh", "PromulgationDate": "2024/03/15"},
    "DocumentType": {"Type": "1", "TypeName": "Công văn"},
    "Subject": "Về việc ]]> triển khai",
    "SignerInfo": {"Position": "Chủ tịch", "FullName": "Nguyễn Văn A"},
    "DueDate": "2024/03/30",
    "ToPlaces": {"Place": ["Như trên", "Lưu VT"]},
    "OtherInfo": {"Priority": "3", "Appendixes": {"Appendix": ["Phụ lục 1", "Phụ lục 2"]}},
    "SteeringType": "2",
}


@pytest.mark.parametrize(
    ("doc_type", "business"),
    [
        ("0", {}),
        ("1", {"BussinessDocReason": "Gửi nhầm", "DocumentId": "X,2024/03/01,1/A"}),
        ("2", {"BussinessDocReason": "Sửa trích yếu", "DocumentId": "X,2024/03/01,1/A"}),
        ("3", {"BussinessDocReason": "Thay thế", "DocumentId": "X,2024/03/01,1/A"}),
    ],
)
def test_every_document_kind_round_trips(
    tmp_path: Path, doc_type: str, business: dict[str, str]
) -> None:
    files = {"cong-van.pdf": one_page_pdf("x"), "bảng kê.xlsx": bytes(range(256)) * 1000}
    meta = {**METADATA, "Bussiness": {"BussinessDocType": doc_type, **business}, "Paper": "1"}
    data = b"".join(
        document_package(
            meta,
            document_id="000.00.00.H41,2024/03/15,12/UBND-VP",
            business_doc_type=int(doc_type),
            trace=[{"OrganId": "000.00.00.H41", "Timestamp": "2024/03/15 08:00:00"}],
            attachments=[
                OutgoingAttachment(name, "application/octet-stream", f"cid{i}", "mô tả", [body])
                for i, (name, body) in enumerate(files.items())
            ],
        )
    )
    package = read(tmp_path, data)
    assert package.business_doc_type == doc_type
    expected = {
        **meta,
        "TraceHeaderList": {
            "TraceHeader": [{"OrganId": "000.00.00.H41", "Timestamp": "2024/03/15 08:00:00"}]
        },
    }
    assert package.metadata == expected
    assert package.document_id == "000.00.00.H41,2024/03/15,12/UBND-VP"
    assert {a.name: a.upload.sha256 for a in package.attachments} == {
        name: hashlib.sha256(body).hexdigest() for name, body in files.items()
    }
    if doc_type != "0":
        assert package.reference == "X,2024/03/01,1/A"
    package.discard()


@pytest.mark.parametrize("code", list(Status))
@pytest.mark.parametrize("namespace", [QCVN_102, GO_VN])
def test_every_status_round_trips(tmp_path: Path, code: Status, namespace: str) -> None:
    at = datetime(2024, 3, 16, 2, 15, 7, tzinfo=UTC)
    data = status_package(
        response_for={
            "OrganId": "000.00.00.H41",
            "Code": "12/UBND-VP",
            "PromulgationDate": "2024/03/15",
            "DocumentId": "000.00.00.H41,2024/03/15,12/UBND-VP",
        },
        from_={"OrganId": "000.00.00.G22", "OrganName": "Văn phòng Chính phủ"},
        staff={"Department": "Văn thư", "Staff": "Phạm Thị D"},
        status_code=code.value,
        description=f"{code.en} & <ok>",
        timestamp=at,
        namespace=namespace,
    )
    path = tmp_path / "status.xml"
    path.write_bytes(data)
    raw = read_package(path, LIMITS, tmp_path)
    assert is_status(raw)
    status = read_status(raw)
    assert status.namespace == namespace
    assert status.status_code == code.value
    assert status.description == f"{code.en} & <ok>"
    assert status.timestamp == at
    assert status.staff == {"Department": "Văn thư", "Staff": "Phạm Thị D"}
    assert status.from_["OrganId"] == "000.00.00.G22"
    assert status.response_for["DocumentId"] == "000.00.00.H41,2024/03/15,12/UBND-VP"


def test_the_status_sample(tmp_path: Path) -> None:
    path = tmp_path / "status.xml"
    path.write_bytes(sample("qcvn102-status-03.xml"))
    status = read_status(read_package(path, LIMITS, tmp_path))
    assert status.status_code == "03"
    assert status.timestamp == datetime(2024, 3, 16, 2, 15, tzinfo=UTC)
    assert status.staff["Staff"] == "Phạm Thị D"


# --- any bytes -------------------------------------------------------------------------

SAMPLE = sample("qcvn102-new-document.xml")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 40), st.binary(max_size=12)),
        min_size=1,
        max_size=4,
    )
)
def test_a_mangled_package_is_read_or_refused_and_leaves_nothing(
    edits: list[tuple[int, int, bytes]],
) -> None:
    """Bytes cut out of the sample and others put in their place: the reader answers with
    a package or a refusal (LienThongError), never anything else, and when it refuses, no
    spool file is left behind; what it read is discarded cleanly too."""
    data = bytearray(SAMPLE)
    for at, length, insert in edits:
        data[at : at + length] = insert
    with tempfile.TemporaryDirectory() as work:
        path, spool = Path(work) / "package.xml", Path(work) / "spool"
        path.write_bytes(bytes(data))
        try:
            raw = read_package(path, LIMITS, spool)
        except LienThongError:
            raw = None  # refused while reading: the reader cleaned up after itself
        if raw is not None:  # as accept_package does: what was read is discarded at the end
            try:
                if is_status(raw):
                    read_status(raw)
                else:
                    read_document(raw, LIMITS, spool).discard()
            except LienThongError:
                pass
            finally:
                raw.discard()
        assert not spool.exists() or list(spool.iterdir()) == []

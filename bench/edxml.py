"""The CPU of accepting a document as an edXML package against the same document posted
as multipart JSON (issue 14: at most 1.5×), measured side by side in one process.

Ingest's app runs in this process (Flask's test client: no sockets, no other service;
SQLite, a local object directory, kombu's memory transport), so ``time.process_time``
around one POST is the CPU the service spent on it: reading the body, checking the
metadata and the PDF, hashing, storing, committing. Rounds alternate the two kinds;
every document is a distinct PDF of the same size (the store deduplicates bytes), and
the package carries exactly that PDF (base64) with the same metadata.
"""

from __future__ import annotations

import io
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.pdfs import Variants, write_padded_pdf
from services.common.wiring import context_of, migrate
from services.ingest.agencies import add_agency, create_api_key
from services.ingest.app import create_app
from services.ingest.context import IngestContext
from services.ingest.edxml.emit import OutgoingAttachment, document_package
from services.ingest.settings import IngestSettings

TITLE = "Accepting an edXML package against multipart JSON (issue 14)"
SENDER, RECIPIENT = "000.00.00.H41", "000.00.00.G22"
TARGET_RATIO = 1.5
MIB = 1024 * 1024


@dataclass
class EdxmlResults:
    pdf_size: int
    package_size: int
    rounds: int
    per_round: int
    json_ms: list[float] = field(default_factory=list)  # CPU per document, each round
    edxml_ms: list[float] = field(default_factory=list)
    wrapped_ms: list[float] = field(default_factory=list)  # base64 in 76-character lines
    failures: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.edxml_ms) / statistics.median(self.json_ms)

    @property
    def wrapped_ratio(self) -> float:
        return statistics.median(self.wrapped_ms) / statistics.median(self.json_ms)


def _metadata(number: int) -> dict[str, Any]:
    return {
        "To": [{"OrganId": RECIPIENT}],
        "Code": {"CodeNumber": str(number), "CodeNotation": "UBND-VP"},
        "PromulgationInfo": {"Place": "Quảng Ninh", "PromulgationDate": "2026/11/21"},
        "DocumentType": {"Type": "1", "TypeName": "Công văn"},
        "Subject": "Về việc triển khai dịch vụ công trực tuyến",
        "SignerInfo": {"Position": "Chủ tịch", "FullName": "Nguyễn Văn A"},
        "OtherInfo": {"Priority": 1},
        "ToPlaces": {"Place": ["Như trên", "Lưu VT"]},
    }


def _package(pdf: bytes, number: int) -> bytes:
    meta = {**_metadata(number), "From": {"OrganId": SENDER}}
    return b"".join(
        document_package(
            meta,
            document_id=f"{SENDER},2026/11/21,{number}/UBND-VP",
            business_doc_type=0,
            trace=[{"OrganId": SENDER, "Timestamp": "2026/11/21 08:00:00"}],
            attachments=[OutgoingAttachment("cong-van.pdf", "application/pdf", "c", "", [pdf])],
        )
    )


def _wrapped(package: bytes) -> bytes:
    """The same package with its base64 in 76-character lines, as MIME encoders write it."""
    start = package.index(b"<edXML:Content>") + len(b"<edXML:Content>")
    end = package.index(b"</edXML:Content>")
    flat = package[start:end].replace(b"\n", b"")
    lines = b"\n".join(flat[i : i + 76] for i in range(0, len(flat), 76))
    return package[:start] + lines + package[end:]


def run_edxml(work: Path, source: Path, *, rounds: int = 5, per_round: int = 20) -> EdxmlResults:
    work.mkdir(parents=True, exist_ok=True)
    settings = IngestSettings.from_env(
        {
            "LIENTHONG_DATA_DIR": str(work / "data"),
            "LIENTHONG_BROKER_URL": "memory://",
            "LIENTHONG_MAX_UPLOAD_BYTES": str(8 * MIB),
        }
    )
    migrate("ingest", settings.database_url)
    app = create_app(settings)
    ctx = context_of(app, IngestContext)
    for code in (SENDER, RECIPIENT):
        add_agency(ctx.db, code, f"Agency {code}")
    auth = {"Authorization": f"Bearer {create_api_key(ctx.db, SENDER, label='bench')}"}
    client = app.test_client()
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        variants = Variants(write_padded_pdf(source, Path(tmp) / "padded.pdf", MIB))
    sample = variants.next()
    res = EdxmlResults(len(sample), len(_package(sample, 0)), rounds, per_round)
    number = 0

    def timed(kind: str) -> float:
        nonlocal number
        number += 1
        pdf = variants.next()
        if kind == "json":
            data = {
                "file": (io.BytesIO(pdf), "cong-van.pdf", "application/pdf"),
                "metadata": json.dumps(_metadata(number)),
            }
            began = time.process_time()
            response = client.post("/v1/documents", data=data, headers=auth)
        else:
            body = _package(pdf, number)
            if kind == "wrapped":
                body = _wrapped(body)
            began = time.process_time()
            response = client.post(
                "/v1/edxml", data=body, headers={**auth, "Content-Type": "application/xml"}
            )
        spent = time.process_time() - began
        if response.status_code != 201:
            res.failures.append(f"{kind}: {response.status_code} {response.get_data()[:200]!r}")
        return spent

    kinds = (("json", res.json_ms), ("edxml", res.edxml_ms), ("wrapped", res.wrapped_ms))
    for kind, _ in kinds:  # warm-up: imports, first queries
        timed(kind)
    for _ in range(rounds):
        for kind, into in kinds:
            spent = [timed(kind) for _ in range(per_round)]
            into.append(1000 * statistics.mean(spent))
    ctx.db.dispose()
    return res


def section(res: EdxmlResults) -> list[str]:
    verdict = "met" if max(res.ratio, res.wrapped_ratio) <= TARGET_RATIO else "NOT met"
    rows = [
        f"| {i + 1} | {j:.1f} | {e:.1f} | {e / j:.2f} | {w:.1f} | {w / j:.2f} |"
        for i, (j, e, w) in enumerate(zip(res.json_ms, res.edxml_ms, res.wrapped_ms, strict=True))
    ]
    median = statistics.median
    return [
        f"## 7. {TITLE}",
        "",
        f"CPU of ingest (`time.process_time`, the app in the measuring process) per "
        f"accepted document: a {res.pdf_size / MIB:.1f} MiB PDF posted as multipart JSON, "
        f"and the same PDF with the same metadata as an edXML package "
        f"({res.package_size / MIB:.2f} MiB, base64 in long lines as Liên Thông emits it, "
        f"and in 76-character lines as MIME encoders write it). {res.rounds} rounds of "
        f"{res.per_round} documents of each kind, in turn. Target: edXML at most "
        f"{TARGET_RATIO}× JSON — **{verdict}** (median ratios {res.ratio:.2f} and "
        f"{res.wrapped_ratio:.2f}).",
        "",
        "| round | JSON ms CPU/doc | edXML ms CPU/doc | ratio | edXML, 76-char lines | ratio |",
        "|---:|---:|---:|---:|---:|---:|",
        *rows,
        f"| median | {median(res.json_ms):.1f} | {median(res.edxml_ms):.1f} | "
        f"{res.ratio:.2f} | {median(res.wrapped_ms):.1f} | {res.wrapped_ratio:.2f} |",
        "",
    ]


def main() -> None:
    from testkit.stack import CORPUS

    source = CORPUS / "pdf-real/002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf"
    with tempfile.TemporaryDirectory() as work:
        res = run_edxml(Path(work), source)
    print("\n".join(section(res)))
    for failure in res.failures:
        print("failure:", failure)


if __name__ == "__main__":
    main()

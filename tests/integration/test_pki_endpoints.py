"""The PKI endpoints served by a real HTTP server, judged by other people's clients:
`openssl ocsp` (good, then revoked), `openssl ts -verify`, `openssl verify -crl_check`,
poppler's `pdfsig` (NSS, online OCSP over GET) and pyHanko B-LT with hard-fail
revocation checking."""

from __future__ import annotations

import io
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from werkzeug.serving import make_server

from services.common.db import Database
from services.signing import keys
from services.signing.models import Base
from services.signing.pki import models as _models  # noqa: F401 - registers the table
from services.signing.pki.ca import init_pki
from services.signing.pki.records import CertificateRecord
from services.signing.pki.revoking import revoke
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.settings import SigningSettings
from testkit.infra import free_port, unavailable
from testkit.pdfs import one_page_pdf
from tests.unit.signing.kit import pki_app

pytestmark = pytest.mark.integration

AGENCY = "000.00.01.H41"


@dataclass
class Served:
    base: str
    settings: SigningSettings
    pki: PkiService
    db: Database
    dir: Path

    def pem(self, name: str, cert: x509.Certificate) -> Path:
        path = self.dir / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    @property
    def chain(self) -> Path:
        return self.pki.material.paths.chain


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if shutil.which("openssl") is None:
        unavailable("openssl")
    root = tmp_path_factory.mktemp("pki-openssl")
    port = free_port()
    settings = SigningSettings.from_env(
        {
            "LIENTHONG_DATA_DIR": str(root / "data"),
            "LIENTHONG_PKI_PASSPHRASE": "integration passphrase",
            "LIENTHONG_SIGNING_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "LIENTHONG_TSA_ACCESS": "open",  # other people's clients, without our token
        }
    )
    init_pki(settings)
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    pki = build_pki_service(settings, db)
    app = pki_app(settings, db, pki)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{port}", settings, pki, db, root)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose()


def _openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def _post(url: str, body: bytes, content_type: str) -> tuple[str, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers.get_content_type(), response.read()


def test_openssl_ocsp_good_then_revoked(served: Served) -> None:
    record = served.pki.issue(agency=AGENCY, kind="organization", name="Sở Nội vụ tỉnh Nghệ An")
    cert = served.pem("ocsp-ee.pem", record.certificate)
    issuer = served.pem("issuing.pem", served.pki.material.issuing_cert)
    url = served.base + "/pki/ocsp"

    good = _openssl("ocsp", "-issuer", issuer, "-cert", cert, "-url", url, "-CAfile", served.chain)
    output = good.stdout + good.stderr
    assert good.returncode == 0, output
    assert "Response verify OK" in output
    assert f"{cert}: good" in output
    assert "WARNING" not in output  # the nonce came back

    revoke(served.db, record.serial, "keyCompromise")  # as `lienthong pki revoke` does
    revoked = _openssl(
        "ocsp", "-issuer", issuer, "-cert", cert, "-url", url, "-CAfile", served.chain
    )
    output = revoked.stdout + revoked.stderr
    assert "Response verify OK" in output
    assert f"{cert}: revoked" in output
    assert "Reason: keyCompromise" in output


def test_openssl_verifies_time_stamp_replies(served: Served) -> None:
    data = served.dir / "document.pdf"
    data.write_bytes(b"%PDF-1.7 pretend document\n" * 100)
    query = served.dir / "req.tsq"
    made = _openssl("ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
    assert made.returncode == 0, made.stderr

    content_type, body = _post(
        served.base + "/pki/tsa", query.read_bytes(), "application/timestamp-query"
    )
    assert content_type == "application/timestamp-reply"
    reply = served.dir / "reply.tsr"
    reply.write_bytes(body)

    verified = _openssl("ts", "-verify", "-in", reply, "-queryfile", query, "-CAfile", served.chain)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Verification: OK" in verified.stdout

    # Against the data itself, too.
    against_data = _openssl("ts", "-verify", "-in", reply, "-data", data, "-CAfile", served.chain)
    assert "Verification: OK" in against_data.stdout, against_data.stderr

    text = _openssl("ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Granted." in text
    assert "Policy OID: 2.25.19157851689582970502681407773941270367.1.1" in text
    assert "Accuracy: 0x01 seconds" in text

    # Without certReq the TSA certificate must be supplied by the verifier.
    bare_query = served.dir / "bare.tsq"
    _openssl("ts", "-query", "-data", data, "-sha512", "-out", bare_query)
    _ctype, bare = _post(
        served.base + "/pki/tsa", bare_query.read_bytes(), "application/timestamp-query"
    )
    bare_reply = served.dir / "bare.tsr"
    bare_reply.write_bytes(bare)
    tsa = served.pem("tsa.pem", served.pki.material.tsa_cert)
    bare_verified = _openssl(
        "ts", "-verify", "-in", bare_reply, "-queryfile", bare_query,
        "-CAfile", served.chain, "-untrusted", tsa,
    )  # fmt: skip
    assert "Verification: OK" in bare_verified.stdout, bare_verified.stderr


def test_openssl_reads_a_bad_alg_rejection(served: Served) -> None:
    data = served.dir / "sha1.txt"
    data.write_bytes(b"weak")
    query = served.dir / "sha1.tsq"
    _openssl("ts", "-query", "-data", data, "-sha1", "-out", query)
    _ctype, body = _post(
        served.base + "/pki/tsa", query.read_bytes(), "application/timestamp-query"
    )
    reply = served.dir / "sha1.tsr"
    reply.write_bytes(body)
    text = _openssl("ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Rejected." in text
    assert "unrecognized or unsupported algorithm identifier" in text.lower()


def test_openssl_checks_the_crl(served: Served) -> None:
    record = served.pki.issue(agency=AGENCY, kind="personal", name="Phạm Thị Dung")
    cert = served.pem("crl-ee.pem", record.certificate)

    def crl_file() -> Path:
        with urllib.request.urlopen(served.base + "/pki/crl", timeout=30) as response:
            assert response.headers.get_content_type() == "application/pkix-crl"
            crl = x509.load_der_x509_crl(response.read())
        path = served.dir / "issuing.crl.pem"
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path

    ok = _openssl(
        "verify", "-crl_check", "-purpose", "smimesign",
        "-CAfile", served.chain, "-CRLfile", crl_file(), cert,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"{cert}: OK" in ok.stdout

    served.pki.revoke(record.serial, "affiliationChanged")
    refused = _openssl(
        "verify", "-crl_check", "-CAfile", served.chain, "-CRLfile", crl_file(), cert
    )
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr


def _sign_b_b(served: Served, record: CertificateRecord, name: str) -> Path:
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(one_page_pdf())),
        signers.PdfSignatureMetadata(field_name="Signature1"),
        signer=keys.signer_for(record, served.settings),
        output=out,
    )
    path = served.dir / name
    path.write_bytes(out.getvalue())
    return path


def test_pdfsig_trusts_our_chain_and_asks_our_ocsp(served: Served) -> None:
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        unavailable("poppler's pdfsig and NSS certutil")
    nss = served.dir / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nss}", "-n", "lien-thong-root", "-t", "C,C,C",
         "-i", str(served.pki.material.paths.cert("root"))],
        check=True,
    )  # fmt: skip
    record = served.pki.issue(agency=AGENCY, kind="organization", name="Sở Tư pháp")
    signed = _sign_b_b(served, record, "pdfsig.pdf")

    def pdfsig() -> str:
        done = subprocess.run(
            ["pdfsig", "-nssdir", f"sql:{nss}", str(signed)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return done.stdout + done.stderr

    report = pdfsig()  # NSS checks revocation online, with GET /pki/ocsp/<base64>
    assert "Signature is Valid." in report, report
    assert "Total document signed" in report
    assert "Certificate is Trusted." in report, report

    served.pki.revoke(record.serial, "keyCompromise")
    assert "Certificate has been Revoked." in pdfsig()


def test_pyhanko_b_lt_with_hard_fail_revocation(served: Served) -> None:
    """pyHanko fetches OCSP for the signer, root.crl for the issuing CA and a token from
    the TSA; a validator then needs nothing but what is embedded."""
    record = served.pki.issue(agency=AGENCY, kind="organization", name="Sở Giáo dục")
    root = served.pki.material.root_asn1
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(one_page_pdf())),
        signers.PdfSignatureMetadata(
            field_name="Signature1",
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=True,
            validation_context=ValidationContext(
                trust_roots=[root], allow_fetching=True, revocation_mode="hard-fail"
            ),
        ),
        signer=keys.signer_for(record, served.settings),
        timestamper=HTTPTimeStamper(served.base + "/pki/tsa"),
        output=out,
    )
    reader = PdfFileReader(out)
    embedded = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [root], "allow_fetching": False, "revocation_mode": "hard-fail"}
    )
    status = validate_pdf_signature(reader.embedded_signatures[0], embedded)
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

"""What we sign, judged by other people's code: poppler's pdfsig (NSS) with our root in
an NSS database, at every PAdES level, offline and once asking our OCSP responder on a
real port; and the time-stamp tokens inside our signatures by `openssl ts -verify`.

(The TSA's HTTP replies are checked by openssl in test_pki_endpoints.py; here it is the
tokens our signing path embeds.)"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader

from services.signing.appearance import Profile
from services.signing.pades import Level
from testkit.infra import free_port, unavailable
from tests.unit.signing.kit import SigningKit, build_kit, serving_pki

pytestmark = pytest.mark.integration

LEVELS = list(Level)


@dataclass(frozen=True)
class PdfsigSignature:
    field: str
    kind: str
    text: str

    @property
    def valid(self) -> bool:
        return "Signature Validation: Signature is Valid." in self.text

    @property
    def trusted(self) -> bool:
        return "Certificate Validation: Certificate is Trusted." in self.text

    @property
    def total(self) -> bool:
        return "  - Total document signed" in self.text


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKit]:
    made = build_kit(tmp_path_factory.mktemp("pdfsig-kit"), f"http://127.0.0.1:{free_port()}")
    yield made
    made.close()


@pytest.fixture(scope="module")
def nss(kit: SigningKit) -> Path:
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        unavailable("poppler's pdfsig and NSS certutil")
    directory = kit.workdir / "nss"
    directory.mkdir()
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{directory}", "-n", "lien-thong-root",
         "-t", "CT,C,C", "-i", str(kit.root_pem)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return directory


def pdfsig(nss: Path, pdf: Path, *, online: bool = False) -> list[PdfsigSignature]:
    args = ["pdfsig", "-nssdir", f"sql:{nss}", *([] if online else ["-no-ocsp"]), str(pdf)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    blocks = re.split(r"^Signature #\d+:\n", done.stdout, flags=re.MULTILINE)[1:]
    assert blocks, output
    found = []
    for block in blocks:
        field = re.search(r"Signature Field Name: (.*)", block)
        kind = re.search(r"Signature Type: (.*)", block)
        assert field and kind, block
        found.append(PdfsigSignature(field.group(1).strip(), kind.group(1).strip(), block))
    return found


@pytest.fixture(scope="module", params=LEVELS, ids=[level.value for level in LEVELS])
def signed(request: pytest.FixtureRequest, kit: SigningKit) -> tuple[Level, Path, Path]:
    """At one level: the letter with the leader's signature and the seal; a copy."""
    level: Level = request.param
    personal, _ = kit.sign(kit.letter(), Profile.PERSONAL, level)
    sealed, _ = kit.sign(personal, Profile.ORGANIZATION, level)
    copy, _ = kit.sign(kit.letter(), Profile.COPY, level)
    return level, sealed, copy


def test_pdfsig_finds_our_signatures_valid_and_trusted(
    signed: tuple[Level, Path, Path], nss: Path
) -> None:
    level, sealed, copy = signed
    for pdf, ours in ((sealed, ["personal-1", "organization-2"]), (copy, ["copy-1"])):
        signatures = pdfsig(nss, pdf)
        cades = [s for s in signatures if s.kind == "ETSI.CAdES.detached"]
        assert [s.field for s in cades] == ours
        for signature in cades:
            assert signature.valid, signature.text
            assert signature.trusted, signature.text
        timestamps = [s for s in signatures if s.kind != "ETSI.CAdES.detached"]
        # B-LTA adds a document time-stamp after each signature (pdfsig cannot check those)
        assert len(timestamps) == (len(ours) if level is Level.B_LTA else 0)
        if level in (Level.B_B, Level.B_T):
            assert cades[-1].total, cades[-1].text  # the last signature covers the whole file
        else:
            assert not cades[-1].total  # validation data follows it


def test_pdfsig_asks_our_ocsp_responder(kit: SigningKit, nss: Path) -> None:
    """NSS checks the signer online at the OCSP URL in the certificate: our responder."""
    sealed, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_LT, out=kit.workdir / "online.pdf")
    with serving_pki(kit) as server:
        (signature,) = pdfsig(nss, sealed, online=True)
        assert signature.valid, signature.text
        assert signature.trusted, signature.text
        assert server.asked("/pki/ocsp") >= 1, server.requests


# --- time-stamp tokens -------------------------------------------------------------------------


def _openssl_ts_verify(kit: SigningKit, token: bytes, digest: bytes, name: str) -> str:
    if shutil.which("openssl") is None:
        unavailable("openssl")
    path = kit.workdir / name
    path.write_bytes(token)
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(path), "-token_in", "-digest", digest.hex(),
         "-CAfile", str(kit.chain_pem)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done.stdout + done.stderr


def test_openssl_verifies_our_signature_time_stamp_tokens(kit: SigningKit) -> None:
    signed, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_T, out=kit.workdir / "bt.pdf")
    (embedded,) = PdfFileReader(io.BytesIO(signed.read_bytes())).embedded_signatures
    signer_info = embedded.signer_info
    (token,) = [
        attribute["values"][0]
        for attribute in signer_info["unsigned_attrs"]
        if attribute["type"].native == "signature_time_stamp_token"
    ]
    imprint = hashlib.sha256(signer_info["signature"].native).digest()
    output = _openssl_ts_verify(kit, token.dump(), imprint, "signature-token.der")
    assert "Verification: OK" in output, output
    wrong = _openssl_ts_verify(kit, token.dump(), hashlib.sha256(b"x").digest(), "wrong.der")
    assert "Verification: OK" not in wrong


def test_openssl_verifies_our_document_time_stamps(kit: SigningKit) -> None:
    signed, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_LTA, out=kit.workdir / "lta.pdf")
    data = signed.read_bytes()
    reader = PdfFileReader(io.BytesIO(data))
    timestamps = reader.embedded_timestamp_signatures
    assert len(timestamps) == 1
    (timestamp,) = timestamps
    start1, length1, start2, length2 = (int(v) for v in timestamp.sig_object["/ByteRange"])
    covered = data[start1 : start1 + length1] + data[start2 : start2 + length2]
    token = cms.ContentInfo.load(bytes(timestamp.sig_object["/Contents"])).dump()
    output = _openssl_ts_verify(kit, token, hashlib.sha256(covered).digest(), "document.der")
    assert "Verification: OK" in output, output

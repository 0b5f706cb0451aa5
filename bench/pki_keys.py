"""PAdES B-B signatures per second by key source, RSA-2048, a 1-page PDF, in memory.

    .venv/bin/python -m bench.pki_keys [--n 100]

* plain ``SimpleSigner.load`` (encrypted PEM key + cert) for every signature;
* plain ``SimpleSigner.load_pkcs12`` for every signature;
* pyHanko's ``SimpleSigner`` loaded once (it still re-parses the key per signature);
* ``keys.signer_for`` on a PKCS#12 certificate: parsed once, key kept parsed;
* ``keys.signer_for`` on a PKCS#11 certificate (SoftHSM2), session kept open.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers

from services.common.db import Database
from services.signing import keys
from services.signing.models import Base
from services.signing.pki import models as _models  # noqa: F401 - registers the table
from services.signing.pki.ca import init_pki
from services.signing.pki.service import build_pki_service
from services.signing.settings import DEFAULT_PKCS11_LIB, SigningSettings
from testkit.pdfs import one_page_pdf
from testkit.stack import CORPUS

SOURCE_PDF = CORPUS / "pdf-real/002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf"
PIN = "bench-pin-0000"


def _pdf() -> bytes:
    return SOURCE_PDF.read_bytes() if SOURCE_PDF.exists() else one_page_pdf()


def _sign(pdf: bytes, signer: signers.Signer) -> None:
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        signers.PdfSignatureMetadata(field_name="Signature1"),
        signer=signer,
        output=out,
    )


def _rate(n: int, pdf: bytes, signer_of: Callable[[], signers.Signer]) -> float:
    _sign(pdf, signer_of())  # warm-up: builds caches, opens sessions
    start = time.perf_counter()
    for _ in range(n):
        _sign(pdf, signer_of())
    return n / (time.perf_counter() - start)


def _softhsm(root: Path) -> bool:
    util = shutil.which("softhsm2-util")
    if util is None or not Path(DEFAULT_PKCS11_LIB).exists():
        return False
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", "B", "--pin", PIN, "--so-pin", "so-0000"],
        check=True,
        capture_output=True,
    )
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pki_keys", description=__doc__)
    parser.add_argument("--n", type=int, default=100, help="signatures per measurement")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lt-bench-pki-") as tmp:
        root = Path(tmp)
        has_hsm = _softhsm(root)
        settings = SigningSettings.from_env(
            {
                "LIENTHONG_DATA_DIR": str(root / "data"),
                "LIENTHONG_PKI_PASSPHRASE": "bench passphrase 0000",
                "LIENTHONG_PKCS11_TOKEN": "B",
                "LIENTHONG_PKCS11_PIN": PIN,
            }
        )
        init_pki(settings)
        db = Database(settings.database_url)
        Base.metadata.create_all(db.engine)
        pki = build_pki_service(settings, db)
        record = pki.issue(agency="000.00.00.H41", kind="organization", name="UBND tỉnh Nghệ An")
        p12 = settings.pki_dir / record.key_ref.removeprefix("pkcs12:")
        passphrase = settings.pki_passphrase

        # The same key as plain files, for SimpleSigner.load.
        key, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), passphrase)
        assert key is not None and cert is not None
        key_pem, cert_pem, chain = root / "key.pem", root / "cert.pem", pki.material.paths.chain
        key_pem.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(passphrase),
            )
        )
        cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

        pdf = _pdf()
        once = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=passphrase)
        assert once is not None
        rows: list[tuple[str, float]] = [
            (
                "plain SimpleSigner.load (PEM) per signature",
                _rate(
                    args.n,
                    pdf,
                    lambda: signers.SimpleSigner.load(
                        str(key_pem), str(cert_pem), [str(chain)], key_passphrase=passphrase
                    ),
                ),
            ),
            (
                "plain SimpleSigner.load_pkcs12 per signature",
                _rate(
                    args.n,
                    pdf,
                    lambda: signers.SimpleSigner.load_pkcs12(str(p12), passphrase=passphrase),
                ),
            ),
            ("pyHanko SimpleSigner loaded once", _rate(args.n, pdf, lambda: once)),
            (
                "keys.signer_for, PKCS#12 (cached)",
                _rate(args.n, pdf, lambda: pki.signer_for(record)),
            ),
        ]
        if has_hsm:
            token_record = pki.issue(
                agency="000.00.00.H41", kind="personal", name="Nguyễn Văn An", pkcs11=True
            )
            rows.append(
                (
                    "keys.signer_for, PKCS#11 SoftHSM2 (cached)",
                    _rate(args.n, pdf, lambda: keys.signer_for(token_record, settings)),
                )
            )
        else:
            rows.append(("keys.signer_for, PKCS#11 SoftHSM2", float("nan")))
        db.dispose()

    base = rows[0][1]
    print(f"B-B, RSA-2048, {len(pdf):,}-byte 1-page PDF, {args.n} signatures each")
    print(f"{'signer':48} {'sig/s':>8} {'vs plain load':>14}")
    for label, rate in rows:
        print(f"{label:48} {rate:8.1f} {rate / base:13.1f}x")


if __name__ == "__main__":
    main()

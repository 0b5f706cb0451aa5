"""Keys on a PKCS#11 token: SoftHSM2 through python-pkcs11, signing PDFs with pyHanko.

SoftHSM2 reads SOFTHSM2_CONF when the library is initialized, once per process:
the fixture points it at a temporary token directory and re-initializes the
library if something loaded it earlier.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.common.db import Database
from services.signing import keys
from services.signing.models import Base
from services.signing.pki import models as _models  # noqa: F401 - registers the table
from services.signing.pki import pkcs11 as tokens
from services.signing.pki.ca import init_pki
from services.signing.pki.errors import CertificateUnusable, TokenError
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.settings import DEFAULT_PKCS11_LIB, SigningSettings
from testkit.infra import unavailable
from testkit.pdfs import one_page_pdf

pytestmark = pytest.mark.integration

TOKEN = "T"
PIN = "Lt-PIN-73915"
SO_PIN = "5678-so"
AGENCY = "000.00.02.H41"


@dataclass
class Token:
    settings: SigningSettings
    pki: PkiService
    db: Database
    dir: Path


def _env(root: Path, pin_file: Path, **extra: str) -> dict[str, str]:
    return {
        "LIENTHONG_DATA_DIR": str(root / "data"),
        "LIENTHONG_PKI_PASSPHRASE": "pkcs11 test passphrase",
        "LIENTHONG_SIGNING_PUBLIC_URL": "http://127.0.0.1:9",
        "LIENTHONG_PKCS11_LIB": DEFAULT_PKCS11_LIB,
        "LIENTHONG_PKCS11_TOKEN": TOKEN,
        "LIENTHONG_PKCS11_PIN_FILE": str(pin_file),
        **extra,
    }


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    util = shutil.which("softhsm2-util")
    if util is None or not Path(DEFAULT_PKCS11_LIB).exists():
        unavailable("SoftHSM2 (softhsm2-util and libsofthsm2.so)")
    assert util is not None
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        timeout=60,
    )
    tokens.TOKENS.close_all()
    if DEFAULT_PKCS11_LIB in pkcs11._loaded:  # loaded earlier in this process: re-read the config
        pkcs11.lib(DEFAULT_PKCS11_LIB).reinitialize()
    pin_file = root / "pin"
    pin_file.write_text(PIN + "\n")
    pin_file.chmod(0o600)
    settings = SigningSettings.from_env(_env(root, pin_file))
    init_pki(settings, root_key_size=3072)
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    try:
        yield Token(settings, build_pki_service(settings, db), db, root)
    finally:
        tokens.TOKENS.close_all()
        db.dispose()
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


def _sign(signer: signers.Signer, field: str = "Signature1") -> bytes:
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(one_page_pdf())),
        signers.PdfSignatureMetadata(field_name=field),
        signer=signer,
        output=out,
    )
    return out.getvalue()


def _check(token: Token, signed: bytes, serial: int) -> None:
    reader = PdfFileReader(io.BytesIO(signed))
    context = ValidationContext(trust_roots=[token.pki.material.root_asn1], allow_fetching=False)
    status = validate_pdf_signature(reader.embedded_signatures[0], context)
    assert status.intact and status.valid, status.pretty_print_details()
    assert status.trusted
    assert status.signing_cert.serial_number == serial


def test_key_generated_on_the_token_signs_pdfs(
    token: Token, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    record = token.pki.issue(
        agency=AGENCY, kind="organization", name="Sở Tài chính tỉnh Nghệ An", pkcs11=True
    )
    label = f"lienthong-{record.serial}"
    assert record.key_ref == f"pkcs11:{TOKEN}/{label}"
    assert not (token.settings.pki_dir / "keys" / f"{record.serial}.p12").exists()

    # On the token: a private key that cannot leave it, and the certificate beside it.
    session = tokens.TOKENS.session(token.settings.pkcs11, TOKEN)
    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
    assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]
    assert key[Attribute.ID] == record.serial_number.to_bytes(20, "big")
    certs = list(
        session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label})
    )
    assert len(certs) == 1
    assert certs[0][Attribute.VALUE] == record.der
    assert certs[0][Attribute.ID] == key[Attribute.ID]

    signer = keys.signer_for(record, token.settings)
    assert isinstance(signer, keys.TokenSigner)
    assert keys.signer_for(record, token.settings) is signer  # one signer, one session
    _check(token, _sign(signer), record.serial_number)
    _check(token, _sign(signer, "Signature2"), record.serial_number)

    # The PIN appears nowhere: not in logs, not in the database, not under the PKI dir.
    assert PIN not in caplog.text
    assert PIN not in record.key_ref
    for path in token.settings.pki_dir.rglob("*"):
        if path.is_file():
            assert PIN.encode() not in path.read_bytes(), path
    assert (
        PIN.encode()
        not in Path(token.settings.database_url.removeprefix("sqlite:///")).read_bytes()
    )


def test_a_closed_session_is_reopened(token: Token, caplog: pytest.LogCaptureFixture) -> None:
    record = token.pki.issue(agency=AGENCY, kind="personal", name="Võ Văn Em", pkcs11=True)
    signer = keys.signer_for(record, token.settings)
    _check(token, _sign(signer), record.serial_number)
    tokens.TOKENS.session(token.settings.pkcs11, TOKEN).close()  # e.g. the HSM restarted
    _check(token, _sign(signer), record.serial_number)
    assert "went stale" in caplog.text


def test_revoked_token_certificate_refuses_to_sign(token: Token) -> None:
    record = token.pki.issue(agency=AGENCY, kind="personal", name="Đỗ Thị Giang", pkcs11=True)
    revoked = token.pki.revoke(record.serial, "keyCompromise")
    with pytest.raises(CertificateUnusable, match="revoked"):
        keys.signer_for(revoked, token.settings)


def test_wrong_pin_is_a_token_error(token: Token) -> None:
    wrong = token.dir / "wrong-pin"
    wrong.write_text("not-the-pin")
    settings = SigningSettings.from_env(_env(token.dir, wrong, LIENTHONG_PKCS11_TOKEN="T"))
    tokens.TOKENS.close_all()
    with pytest.raises(TokenError) as caught:
        tokens.TOKENS.session(settings.pkcs11, TOKEN)
    assert "PinIncorrect" in str(caught.value)
    assert "not-the-pin" not in str(caught.value)
    with pytest.raises(TokenError, match="no-such-token"):
        tokens.TOKENS.session(token.settings.pkcs11, "no-such-token")

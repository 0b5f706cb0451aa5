"""The operator's trust store: LIENTHONG_TRUST_DIR, ``lienthong trust add|list|remove``,
and a running verifier that follows it without a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from services.cli import main
from services.common.contract import Verdict
from services.common.errors import SettingsError
from services.signing.pki.service import PkiService
from services.signing.settings import SigningSettings
from services.signing.verifier import LazyVerifier
from tests.unit.signing.kit import PASSPHRASE, PUBLIC_URL, settings_for
from tests.unit.signing.verification.helpers import (
    NOW,
    Issued,
    ThrowawayPki,
    _key,
    _name,
    minimal_pdf,
    sign,
)


@pytest.fixture(scope="module")
def foreign() -> ThrowawayPki:
    """A CA we do not trust by default (a national root, say)."""
    return ThrowawayPki()


@pytest.fixture(scope="module")
def foreign_signed(foreign: ThrowawayPki) -> bytes:
    return sign(minimal_pdf(), foreign)


def _env(settings: SigningSettings) -> dict[str, str]:
    return {
        "LIENTHONG_DATA_DIR": str(settings.common.data_dir),
        "LIENTHONG_PKI_DIR": str(settings.pki_dir),
        "LIENTHONG_PKI_PASSPHRASE": PASSPHRASE,
        "LIENTHONG_SIGNING_PUBLIC_URL": PUBLIC_URL,
    }


def _run(settings: SigningSettings, *args: str) -> Result:
    return CliRunner().invoke(main, ["trust", *args], env=_env(settings))


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _write(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_trust_dir_setting(tmp_path: Path, shared_pki_dir: Path) -> None:
    default = settings_for(tmp_path / "data", shared_pki_dir)
    assert default.trust_dir == (tmp_path / "data").resolve() / "trust"
    chosen = settings_for(
        tmp_path / "data", shared_pki_dir, LIENTHONG_TRUST_DIR=str(tmp_path / "roots")
    )
    assert chosen.trust_dir == (tmp_path / "roots").resolve()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(SettingsError, match=r"TRUST_DIR.*not a directory"):
        settings_for(tmp_path / "data", shared_pki_dir, LIENTHONG_TRUST_DIR=str(a_file))


def test_add_list_remove_and_the_verifier_follows(
    tmp_path: Path,
    settings: SigningSettings,
    pki: PkiService,
    foreign: ThrowawayPki,
    foreign_signed: bytes,
) -> None:
    verifier = LazyVerifier(settings, pki)
    verifier.recheck_seconds = 0.0
    before = verifier.verify(foreign_signed)
    assert before.verdict == Verdict.INDETERMINATE

    root_file = _write(tmp_path / "national-root.cer", foreign.root.cert)
    fp = _fingerprint(foreign.root.cert)
    added = _run(settings, "add", str(root_file), "--name", "Gốc quốc gia")
    assert added.exit_code == 0, added.output
    assert fp in added.output
    assert "Liên Thông Test Root" in added.output
    stored = settings.trust_dir / "goc-quoc-gia.pem"
    assert stored.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")

    listed = _run(settings, "list")
    assert listed.exit_code == 0, listed.output
    own_line = next(line for line in listed.output.splitlines() if line.startswith("own PKI"))
    assert _fingerprint(pki.material.root_cert) in own_line
    dir_line = next(line for line in listed.output.splitlines() if line.startswith("trust dir"))
    assert fp in dir_line and "goc-quoc-gia.pem" in dir_line
    assert f"until {foreign.root.cert.not_valid_after_utc:%Y-%m-%d}" in dir_line

    after_add = verifier.verify(foreign_signed)
    assert after_add.verdict == Verdict.VALID, after_add.reasons
    assert after_add.signatures[0].trust_path[-1] == foreign.root.asn1.subject.human_friendly

    removed = _run(settings, "remove", fp)
    assert removed.exit_code == 0, removed.output
    assert not stored.exists()
    assert fp not in _run(settings, "list").output
    assert verifier.verify(foreign_signed).verdict == Verdict.INDETERMINATE


def test_remove_by_name_and_our_root_stays(
    tmp_path: Path, settings: SigningSettings, pki: PkiService, foreign: ThrowawayPki
) -> None:
    assert _run(settings, "add", str(_write(tmp_path / "r.pem", foreign.root.cert))).exit_code == 0
    assert (settings.trust_dir / "lien-thong-test-root.pem").exists()
    again = _run(settings, "add", str(tmp_path / "r.pem"))
    assert again.exit_code == 0 and "already trusted" in again.output
    assert _run(settings, "remove", "lien-thong-test-root").exit_code == 0
    assert list(settings.trust_dir.iterdir()) == []

    own = _fingerprint(pki.material.root_cert)
    refused = _run(settings, "remove", own)
    assert refused.exit_code != 0
    assert "own PKI root" in refused.output
    assert own in _run(settings, "list").output
    unknown = _run(settings, "remove", "nothing-like-this")
    assert unknown.exit_code != 0 and "no trust anchor matches" in unknown.output


def test_add_refuses_a_non_ca(
    tmp_path: Path, settings: SigningSettings, foreign: ThrowawayPki
) -> None:
    result = _run(settings, "add", str(_write(tmp_path / "leaf.pem", foreign.signer.cert)))
    assert result.exit_code != 0
    assert "not a CA certificate" in result.output
    assert not settings.trust_dir.exists() or not any(settings.trust_dir.iterdir())


def test_add_refuses_a_non_certificate(tmp_path: Path, settings: SigningSettings) -> None:
    junk = tmp_path / "root.pem"
    junk.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    der_junk = tmp_path / "root.der"
    der_junk.write_bytes(b"\x00\x01not a certificate")
    for path in (junk, der_junk):
        result = _run(settings, "add", str(path))
        assert result.exit_code != 0
        assert "is not an X.509 certificate" in result.output
        assert "Traceback" not in result.output
    missing = _run(settings, "add", str(tmp_path / "absent.pem"))
    assert missing.exit_code != 0 and "cannot be read" in missing.output


def _intermediate(issuer: Issued) -> x509.Certificate:
    key = _key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Sub CA"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(issuer.key, hashes.SHA256())
    )


def test_add_warns_when_not_self_signed(
    tmp_path: Path, settings: SigningSettings, foreign: ThrowawayPki
) -> None:
    sub = _write(tmp_path / "sub.crt", _intermediate(foreign.root))
    result = _run(settings, "add", str(sub))
    assert result.exit_code == 0, result.output
    assert "warning: the certificate is not self-signed" in result.output
    assert (settings.trust_dir / "sub-ca.pem").exists()


def test_a_bad_file_in_the_trust_dir_is_skipped(
    settings: SigningSettings, pki: PkiService, foreign: ThrowawayPki
) -> None:
    settings.trust_dir.mkdir(parents=True)
    (settings.trust_dir / "broken.pem").write_text("not a certificate")
    _write(settings.trust_dir / "good.crt", foreign.root.cert)
    (settings.trust_dir / "notes.txt").write_text("ignored: not a certificate suffix")
    roots = pki.trust_roots()
    assert [_fingerprint(r) for r in roots] == [
        _fingerprint(pki.material.root_cert),
        _fingerprint(foreign.root.cert),
    ]

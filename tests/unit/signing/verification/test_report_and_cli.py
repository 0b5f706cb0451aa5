"""JSON and HTML reports, and the ``verify`` command."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from services.common.contract import Verdict
from services.signing.verification import (
    CertificateInfo,
    FieldKind,
    SignatureReport,
    VerificationReport,
    Verifier,
    render_html,
)
from services.signing.verification.cli import register, verify
from tests.unit.signing.verification import helpers as h
from tests.unit.signing.verification.helpers import ThrowawayPki


def test_json_round_trip(verifier: Verifier, signed_bt: bytes) -> None:
    report = verifier.verify(signed_bt, file_name="văn bản.pdf")
    data = json.loads(report.to_json())
    assert data["verdict"] == "valid"
    assert data["file_name"] == "văn bản.pdf"
    sig = data["signatures"][0]
    assert sig["kind"] == "signature"
    assert sig["pades_level"] == "B-T"
    assert sig["signer"]["serial"] == report.signatures[0].signer.serial  # type: ignore[union-attr]
    assert sig["byte_range"][0] == 0
    assert sig["timestamp"]["trusted"] is True
    assert data["sha256"] and data["file_size"] == len(signed_bt)


def test_html_escapes_everything_and_labels_in_vietnamese() -> None:
    evil = '<script>alert("x")</script>'
    cert = CertificateInfo(evil, evil, "01", "2020", "2030", "ab", False)
    report = VerificationReport(
        verdict=Verdict.INVALID,
        reasons=(evil,),
        file_name=evil,
        signatures=(
            SignatureReport(
                field_name=evil,
                kind=FieldKind.SIGNATURE,
                verdict=Verdict.INVALID,
                reasons=(evil,),
                signer=cert,
                chain=(cert,),
                suspicious_modification=evil,
                changed_form_fields=(evil,),
            ),
        ),
    )
    page = render_html(report)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "Không hợp lệ" in page and "(invalid)" in page
    assert "Người ký" in page and "(signer)" in page
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page


def test_html_of_a_real_report(verifier: Verifier, signed_bt: bytes) -> None:
    page = render_html(verifier.verify(signed_bt))
    assert "Hợp lệ" in page and "B-T" in page and "Nguyễn Văn A" in page


def _run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(verify, args, catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_exit_codes(tmp_path: Path, pki: ThrowawayPki, signed_bt: bytes, corpus: Path) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.pem)
    good = tmp_path / "good.pdf"
    good.write_bytes(signed_bt)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(h.flip_byte(signed_bt, b"Hello, Lien Thong"))
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7 nothing else")
    unsigned = corpus / "pdf-real" / "001-trivial" / "minimal-document.pdf"
    base = ["--no-default-trust", "--no-fetch"]

    code, out = _run([*base, "--trust", str(root), str(good)])
    assert code == 0, out
    assert out.startswith("VALID: Hợp lệ (valid)")
    assert _run([*base, "--trust", str(root), str(bad)])[0] == 1
    assert _run([*base, str(good)])[0] == 2  # not trusted
    assert _run([*base, str(unsigned)])[0] == 3
    assert _run([*base, str(junk)])[0] == 4


def test_cli_json_and_html(tmp_path: Path, pki: ThrowawayPki, signed_bt: bytes) -> None:
    root = tmp_path / "root.pem"
    root.write_bytes(pki.root.pem)
    good = tmp_path / "good.pdf"
    good.write_bytes(signed_bt)
    html_out = tmp_path / "report.html"
    code, out = _run(
        [
            "--no-default-trust",
            "--no-fetch",
            "--trust",
            str(root),
            "--json",
            "--html",
            str(html_out),
            str(good),
        ]
    )
    assert code == 0
    assert json.loads(out)["verdict"] == "valid"
    assert "Kết quả xác minh chữ ký số" in html_out.read_text(encoding="utf-8")


def test_cli_rejects_a_bad_trust_file(tmp_path: Path, signed_bt: bytes) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    good = tmp_path / "good.pdf"
    good.write_bytes(signed_bt)
    result = CliRunner().invoke(verify, ["--no-default-trust", "--trust", str(bogus), str(good)])
    assert result.exit_code == 2
    assert "--trust" in result.output


def test_register_adds_the_command() -> None:
    group = click.Group("lienthong")
    register(group)
    assert "verify" in group.commands


def test_configured_trust_roots_come_from_the_settings(
    tmp_path: Path, pki: ThrowawayPki, signed_bt: bytes
) -> None:
    from services.signing.settings import SigningSettings
    from services.signing.verification import configured_trust_roots

    national = tmp_path / "national.pem"
    national.write_bytes(pki.root.pem)
    settings = SigningSettings.from_env(
        {"LIENTHONG_DATA_DIR": str(tmp_path / "data"), "LIENTHONG_TRUST_ROOTS": str(national)}
    )
    roots = configured_trust_roots(settings)
    assert pki.root.asn1.sha256 in {r.sha256 for r in roots}
    assert Verifier(roots).verify(signed_bt).verdict == Verdict.VALID

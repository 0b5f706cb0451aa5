"""Every file of the test corpus (tests/corpus) gets the verdict its MANIFEST implies.

Expectations per file, with the pyHanko testing CA as trust anchor and without it.
``allow_fetching=False`` and the real current time throughout: the verifier judges a
certificate at the signing time proven by a time-stamp, else at the one the signer
claims (see ``engine`` docstring), so no clock is frozen here.

``valid-signed`` files are ``valid`` with the root when the signer's certificate
chains to ``testing-ca/root.cert.pem`` and was valid at signing time; the others are
``indeterminate`` for a stated reason (signed by another pyHanko test CA, signed by
Adobe's self-signed test certificate, or signed - by their own claim - after the
certificate had expired). Without the root they are never ``valid``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from services.common.contract import Verdict
from services.signing.verification import FieldKind, Verifier
from testkit.stack import CORPUS

V, X, I, U, R = (  # noqa: E741
    Verdict.VALID,
    Verdict.INVALID,
    Verdict.INDETERMINATE,
    Verdict.UNSIGNED,
    Verdict.UNREADABLE,
)
EXPIRED = "certificate expired before the claimed signing time"
OTHER_CA = "signer chains to another pyHanko test CA, not root.cert.pem"
ADOBE = "Adobe's self-signed test signer and TSA, not root.cert.pem"

# path: (verdict with root.cert.pem, verdict without, why)
PYHANKO: dict[str, tuple[Verdict, Verdict, str]] = {
    # valid-signed
    "certified-with-indirect-refs-in-dir.pdf": (V, I, "trusted chain"),
    "separate-annots-kids-indir.pdf": (V, I, "trusted chain, 2nd signature = form filling"),
    "pades-lta-dss-indirect-arrs-test.pdf": (V, I, "B-LTA, TSA revinfo stale today"),
    "pades-with-old-style-signing-cert-attr.pdf": (V, I, "trusted chain"),
    "pades-with-old-style-signing-cert-attr-issser.pdf": (V, I, "trusted chain"),
    "sig-with-ski-sid.pdf": (V, I, "trusted chain"),
    "sig-no-signed-attrs.pdf": (V, I, "trusted chain, time from /M"),
    "extensions-direct.pdf": (I, I, f"Sig1 {EXPIRED}; Sig2 {OTHER_CA}"),
    "extensions-indirect.pdf": (I, I, f"Sig1 {EXPIRED}; Sig2 {OTHER_CA}"),
    "extensions-update-direct.pdf": (I, I, f"Sig1 {EXPIRED}; Sig2 {OTHER_CA}"),
    "extensions-update-indirect.pdf": (I, I, f"Sig1 {EXPIRED}; Sig2 {OTHER_CA}"),
    "form-update-override-appearance-stream.pdf": (I, I, EXPIRED),
    "form-update-override-appearance-stream-ap-indirect.pdf": (I, I, EXPIRED),
    "form-update-no-override-appearance-stream-ap-indirect.pdf": (I, I, EXPIRED),
    "form-update-original-ap-type-wrong.pdf": (I, I, EXPIRED),
    "minimal-two-fields-signed-twice.pdf": (I, I, ADOBE),
    "minimal-signed-twice-second-created.pdf": (I, I, ADOBE),
    "minimal-signed-twice-both-created.pdf": (I, I, ADOBE),
    "minimal-signed-twice-no-sig-type.pdf": (I, I, OTHER_CA),
    "ed448-shake256-nolen.pdf": (I, I, OTHER_CA + " (Ed448)"),
    "signed-encrypted-pubkey-with-catalog-ref.pdf": (I, I, EXPIRED + "; encrypted, no key"),
    # attack
    "form-update-override-appearance-stream-sneaky.pdf": (X, X, "shared AP stream clobbered"),
    "form-update-override-appearance-stream-ap-indirect-sneaky.pdf": (X, X, "same"),
    "form-update-no-override-appearance-stream-ap-indirect-sneaky.pdf": (X, X, "same"),
    "form-update-ap-indirect-sneaky-trailer.pdf": (X, X, "change via the trailer"),
    "extensions-indirect-not-all-paths.pdf": (X, X, "shared /Extensions object"),
    "coverage-anomalies/tail-uncovered.pdf": (X, X, "CONTIGUOUS_BLOCK_FROM_START"),
    "coverage-anomalies/signature-gap-too-big.pdf": (X, X, "UNCLEAR coverage"),
    "coverage-anomalies/one-byterange.pdf": (X, X, "UNCLEAR coverage"),
    "coverage-anomalies/weird-byterange.pdf": (X, X, "UNCLEAR coverage"),
    # malformed, signed: the signature itself is broken
    "coverage-anomalies/base.pdf": (X, X, "/Contents is not CMS"),
    "ed448-disallowed-hash.pdf": (X, X, "Ed448 with a disallowed digest"),
    "pdf-sig-with-econtent.pdf": (X, X, "detached signature with encapsulated content"),
    # malformed, unsigned: unreadable, or readable (leniently) and without a signature
    "broken-objstream1.pdf": (R, R, "broken object stream"),
    "circular-page-tree.pdf": (R, R, "circular page tree"),
    "form-tree-circular-ref-input.pdf": (R, R, "circular form tree"),
    "minimal-illegal-header.pdf": (R, R, "no %PDF header"),
    "minimal-startxref-hopeless.pdf": (R, R, "startxref points nowhere"),
    "malformed-xref-space-padded.pdf": (U, U, "lenient parse works; no signature"),
    "minimal-badxref.pdf": (U, U, "xref offsets off, repaired; no signature"),
    "struct-tree-circular-ref.pdf": (U, U, "structure tree cycle is irrelevant; empty field"),
}


def _manifest(folder: Path) -> list[dict[str, str]]:
    with (folder / "MANIFEST.tsv").open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _pyhanko_rows() -> list[dict[str, str]]:
    return _manifest(CORPUS / "pdf-pyhanko")


def _real_rows() -> list[dict[str, str]]:
    return _manifest(CORPUS / "pdf-real")


@pytest.fixture(scope="module")
def trusting(corpus: Path) -> Verifier:
    return Verifier([corpus / "pdf-pyhanko" / "testing-ca" / "root.cert.pem"], timeout=30)


@pytest.fixture(scope="module")
def trusting_nothing() -> Verifier:
    return Verifier([], timeout=30)


def test_every_manifest_file_has_an_expectation(corpus: Path) -> None:
    listed = {row["path"] for row in _manifest(corpus / "pdf-pyhanko")}
    assert listed == set(PYHANKO)
    on_disk = {
        p.relative_to(corpus / "pdf-pyhanko").as_posix()
        for p in (corpus / "pdf-pyhanko").rglob("*.pdf")
    }
    assert on_disk == listed


@pytest.mark.parametrize("row", _pyhanko_rows(), ids=lambda r: r["path"])
def test_pyhanko_corpus(
    row: dict[str, str], corpus: Path, trusting: Verifier, trusting_nothing: Verifier
) -> None:
    path = corpus / "pdf-pyhanko" / row["path"]
    with_root, without_root, why = PYHANKO[row["path"]]
    trusted = trusting.verify(path)
    untrusted = trusting_nothing.verify(path)
    assert (trusted.verdict, untrusted.verdict) == (with_root, without_root), (
        why,
        trusted.reasons,
        untrusted.reasons,
    )
    assert untrusted.verdict != Verdict.VALID
    category = row["category"]
    signed = [
        s for s in trusted.signatures + trusted.document_timestamps if s.kind != FieldKind.EMPTY
    ]
    if category == "attack":
        assert trusted.verdict == Verdict.INVALID
        assert any(s.verdict == Verdict.INVALID for s in signed)
    elif category == "valid-signed":
        assert signed, "a valid-signed file must show its signatures"
        for s in signed:
            assert s.intact is True and s.crypto_valid is True, (s.field_name, s.reasons)
            assert s.verdict != Verdict.INVALID, (s.field_name, s.reasons)
        assert trusted.verdict in (Verdict.VALID, Verdict.INDETERMINATE)
    else:
        assert category == "malformed"
        assert trusted.verdict in (Verdict.INVALID, Verdict.UNREADABLE, Verdict.UNSIGNED)
        if trusted.verdict == Verdict.UNSIGNED:
            assert "unsigned" in row["expected_verdict"]
    # the report is always serialisable
    assert trusted.to_json()


@pytest.mark.parametrize("row", _real_rows(), ids=lambda r: r["path"])
def test_real_world_pdfs_are_unsigned(
    row: dict[str, str], corpus: Path, trusting: Verifier
) -> None:
    """Including the password-protected one: the object structure of an encrypted PDF is
    not encrypted (only strings and streams are), so the verifier can see that it has no
    signature field without the password. ``unsigned`` is therefore a fact, not a
    guess; a document that *did* carry signature fields but could not be decrypted
    would be ``indeterminate`` instead."""
    report = trusting.verify(corpus / "pdf-real" / row["path"])
    assert report.verdict == Verdict.UNSIGNED, report.reasons
    assert report.exit_code == 3
    if "password" in row["path"]:
        assert report.encrypted


def test_modification_attacks_name_the_change(corpus: Path, trusting: Verifier) -> None:
    report = trusting.verify(
        corpus / "pdf-pyhanko" / "form-update-override-appearance-stream-sneaky.pdf"
    )
    sig1 = next(s for s in report.signatures if s.field_name == "Sig1")
    assert sig1.verdict == Verdict.INVALID
    assert sig1.modification_level == "OTHER"
    assert sig1.suspicious_modification
    assert any("modified after signing" in r for r in sig1.reasons)


def test_lta_file_reaches_b_lta(corpus: Path, trusting: Verifier) -> None:
    report = trusting.verify(corpus / "pdf-pyhanko" / "pades-lta-dss-indirect-arrs-test.pdf")
    assert report.verdict == Verdict.VALID
    (sig,) = report.signatures
    assert sig.pades_level == "B-LTA"
    assert sig.validation_time_source == "signature_timestamp"
    assert sig.timestamp is not None and sig.timestamp.trusted
    (dts,) = report.document_timestamps
    assert dts.kind == FieldKind.DOCUMENT_TIMESTAMP and dts.verdict == Verdict.VALID


def test_expired_signer_is_indeterminate_not_valid(corpus: Path, trusting: Verifier) -> None:
    report = trusting.verify(corpus / "pdf-pyhanko" / "form-update-override-appearance-stream.pdf")
    sig1 = next(s for s in report.signatures if s.field_name == "Sig1")
    assert sig1.verdict == Verdict.INDETERMINATE
    assert sig1.trust_problem == "OUT_OF_BOUNDS_NO_POE"
    # its changes after signing (a second signature) are acceptable
    assert sig1.modification_level == "FORM_FILLING"
    assert sig1.changed_form_fields == ("Sig2",)

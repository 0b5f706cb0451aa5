"""The classes of genuine signed PDFs that a fair verifier must not call invalid, and
the attacks hidden among them that it must: each case is generated here.

ETSI EN 319 102-1 decides the words: TOTAL-FAILED (``invalid``) only for what is really
broken (hash or signature mismatch, format failure, revocation before the signing time,
a forbidden or visible change after signing); an untrusted chain, a broken constraint or
an algorithm past its sunset is INDETERMINATE with the standard sub-indication."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.fields import MDPPerm

import tests.unit.signing.verification.helpers as h
from services.common.contract import Verdict
from services.signing.algorithm_policy import AlgorithmPolicy, AlgorithmPolicyError
from services.signing.verification import Verifier
from services.signing.verification.model import (
    Indication,
    SignatureReport,
    SubIndication,
    VerificationReport,
)
from tests.unit.signing.verification import realworld as rw
from tests.unit.signing.verification.helpers import NOW, ThrowawayPki, minimal_pdf, sign

pytestmark = pytest.mark.usefixtures("quiet")


@pytest.fixture(scope="module")
def foreign() -> ThrowawayPki:
    """A PKI nobody configured: a foreign partner's CA with its own names."""
    original = h._name
    h._name = lambda cn: original(f"Foreign {cn}")
    try:
        return ThrowawayPki()
    finally:
        h._name = original


@pytest.fixture(scope="module")
def form_pdf() -> bytes:
    return rw.with_text_field(minimal_pdf())


def _first(report: VerificationReport, name: str = "Sig1") -> SignatureReport:
    return next(s for s in report.signatures if s.field_name == name)


def _etsi(report: VerificationReport) -> tuple[Verdict, Indication | None, SubIndication | None]:
    return report.verdict, report.indication, report.sub_indication


PASSED = (Verdict.VALID, Indication.TOTAL_PASSED, None)


# ------------------------------------------------------------------ foreign PKI


def test_foreign_root_is_indeterminate_no_chain(verifier: Verifier, foreign: ThrowawayPki) -> None:
    report = verifier.verify(sign(minimal_pdf(), foreign, timestamp=True))
    assert _etsi(report) == (
        Verdict.INDETERMINATE,
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    sig = _first(report)
    assert sig.indication == Indication.INDETERMINATE
    assert sig.trust_path == () and sig.trust_path_problem
    assert sig.intact and sig.crypto_valid


def test_foreign_root_with_a_later_comment_stays_indeterminate(
    verifier: Verifier, foreign: ThrowawayPki
) -> None:
    """Untrusted plus a benign change: still not invalid."""
    report = verifier.verify(rw.add_comment(sign(minimal_pdf(), foreign)))
    assert report.verdict == Verdict.INDETERMINATE
    assert _first(report).sub_indication == SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_foreign_root_becomes_valid_once_trusted(foreign: ThrowawayPki, pki: ThrowawayPki) -> None:
    pdf = sign(minimal_pdf(), foreign, timestamp=True)
    assert _etsi(Verifier([pki.root.pem, foreign.root.pem]).verify(pdf)) == PASSED


def test_foreign_signature_is_still_invalid_when_tampered(
    verifier: Verifier, foreign: ThrowawayPki
) -> None:
    report = verifier.verify(h.change_page_content(sign(minimal_pdf(), foreign)))
    assert report.verdict == Verdict.INVALID
    assert _first(report).indication == Indication.TOTAL_FAILED


def test_foreign_signature_with_a_flipped_byte_is_a_hash_failure(
    verifier: Verifier, foreign: ThrowawayPki
) -> None:
    report = verifier.verify(h.flip_byte(sign(minimal_pdf(), foreign), b"Hello"))
    assert _etsi(report) == (Verdict.INVALID, Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


# ------------------------------------------------------------------ chain constraints


@pytest.mark.parametrize(
    ("usage", "extended"),
    [
        ({"key_encipherment": True}, None),
        ({"digital_signature": True}, [ExtendedKeyUsageOID.SERVER_AUTH]),
    ],
    ids=["key-encipherment-only", "tls-server-eku"],
)
def test_bad_key_usage_is_a_chain_constraint_failure(
    verifier: Verifier, pki: ThrowawayPki, usage: dict[str, bool], extended: list | None
) -> None:
    who = rw.issue(pki, "Khoá sai mục đích", usage=usage, extended=extended)
    report = verifier.verify(rw.sign_with(minimal_pdf(), pki, who))
    if extended is None:
        assert _etsi(report) == (
            Verdict.INDETERMINATE,
            Indication.INDETERMINATE,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
        )
    else:  # pyHanko does not police extended key usage for signers; the digest does
        assert report.verdict in (Verdict.VALID, Verdict.INDETERMINATE)
    assert report.verdict != Verdict.INVALID


# ------------------------------------------------------------------ algorithms


@pytest.mark.parametrize(
    ("md", "pss", "key_size"),
    [("sha1", False, 2048), ("sha1", True, 2048), ("sha256", False, 1024)],
    ids=["sha1-pkcs1", "sha1-pss", "rsa-1024"],
)
def test_algorithms_past_their_sunset_are_indeterminate_without_proof(
    verifier: Verifier, pki: ThrowawayPki, md: str, pss: bool, key_size: int
) -> None:
    who = pki.signer if key_size == 2048 else rw.issue(pki, "Khoá ngắn", key_size=key_size)
    report = verifier.verify(rw.sign_with(minimal_pdf(), pki, who, md=md, pss=pss))
    assert _etsi(report) == (
        Verdict.INDETERMINATE,
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    )
    assert "2013-12-31" in " ".join(report.reasons)


@pytest.mark.parametrize("md", ["sha256", "sha384", "sha512"])
def test_rsassa_pss_with_a_strong_digest_is_valid(
    verifier: Verifier, pki: ThrowawayPki, md: str
) -> None:
    report = verifier.verify(rw.sign_with(minimal_pdf(), pki, pki.signer, md=md, pss=True))
    assert _etsi(report) == PASSED
    assert _first(report).signature_mechanism == "rsassa_pss"


def _sunset_policy(tmp_path: Path, sunset: date) -> AlgorithmPolicy:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"digests": {"sha256": None, "sha1": sunset.isoformat()}}))
    return AlgorithmPolicy.from_file(path)


def test_a_time_stamp_before_the_sunset_rescues_sha1(tmp_path: Path) -> None:
    """SHA-1 accepted until three days ago; the signature was time-stamped five days
    ago, so it provably predates the sunset (proof of existence)."""
    old = ThrowawayPki()
    month_ago = NOW - timedelta(days=20)
    old.tsa = rw.issue(
        old,
        "TSA",
        usage={"digital_signature": True},
        extended=[ExtendedKeyUsageOID.TIME_STAMPING],
        not_before=month_ago,
    )
    who = rw.issue(old, "Ký năm cũ", not_before=month_ago)
    policy = _sunset_policy(tmp_path, (NOW - timedelta(days=3)).date())
    verifier = Verifier([old.root.pem], algorithm_policy=policy)
    stamped = rw.sign_with(minimal_pdf(), old, who, md="sha1", timestamp_at=NOW - timedelta(days=5))
    report = verifier.verify(stamped)
    assert _etsi(report) == PASSED, report.reasons
    assert _first(report).validation_time_source == "signature_timestamp"
    unstamped = verifier.verify(rw.sign_with(minimal_pdf(), old, who, md="sha1"))
    assert unstamped.sub_indication == SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    late = rw.sign_with(minimal_pdf(), old, who, md="sha1", timestamp=True)
    assert verifier.verify(late).sub_indication == SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE


def test_a_claimed_signing_time_does_not_rescue_sha1(pki: ThrowawayPki, tmp_path: Path) -> None:
    """The policy is applied at a proven time only: a signer whose clock claims a time
    before the sunset proves nothing (SHA-1 accepted until three days ago, the claim
    five days ago, no time-stamp)."""
    policy = _sunset_policy(tmp_path, (NOW - timedelta(days=3)).date())
    verifier = Verifier([pki.root.pem], algorithm_policy=policy)
    who = rw.issue(pki, "Ký lùi ngày", not_before=NOW - timedelta(days=20))
    pdf = rw.sign_with(minimal_pdf(), pki, who, md="sha1", claimed_at=NOW - timedelta(days=5))
    report = verifier.verify(pdf)
    sig = _first(report)
    assert sig.validation_time_source == "claimed"
    assert report.sub_indication == SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE


def test_a_policy_that_still_accepts_sha1_passes_it(pki: ThrowawayPki, tmp_path: Path) -> None:
    policy = _sunset_policy(tmp_path, (NOW + timedelta(days=30)).date())
    verifier = Verifier([pki.root.pem], algorithm_policy=policy)
    pdf = rw.sign_with(minimal_pdf(), pki, pki.signer, md="sha1")
    assert _etsi(verifier.verify(pdf)) == PASSED


def test_a_digest_the_policy_does_not_list_is_never_accepted(
    pki: ThrowawayPki, tmp_path: Path
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"digests": {"sha512": None}}))
    verifier = Verifier([pki.root.pem], algorithm_policy=AlgorithmPolicy.from_file(path))
    report = verifier.verify(rw.sign_with(minimal_pdf(), pki, pki.signer, md="sha256"))
    assert report.sub_indication == SubIndication.CRYPTO_CONSTRAINTS_FAILURE


@pytest.mark.parametrize(
    "content",
    ["[]", '{"digests": {"sha1": "yesterday"}}', '{"hashes": {}}', '{"rsa_min_bits": {"x": null}}'],
)
def test_a_bad_policy_file_is_refused_with_its_reason(tmp_path: Path, content: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(content)
    with pytest.raises(AlgorithmPolicyError, match=r"policy\.json"):
        AlgorithmPolicy.from_file(path)


# ------------------------------------------------------------------ later revisions


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda pdf: rw.add_comment(pdf), PASSED),
        (lambda pdf: rw.add_comment(pdf, subtype="/Highlight"), PASSED),
        (lambda pdf: rw.add_comment(pdf, subtype="/FreeText", hidden=True), PASSED),
        (rw.add_structure_tree, PASSED),
        (rw.add_names, PASSED),
        (
            lambda pdf: rw.add_comment(pdf, subtype="/FreeText"),
            (Verdict.INVALID, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE),
        ),
        (
            lambda pdf: rw.add_comment(pdf, subtype="/Stamp"),
            (Verdict.INVALID, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE),
        ),
        (
            lambda pdf: rw.add_names(pdf, category="/JavaScript"),
            (Verdict.INVALID, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE),
        ),
        (
            h.change_page_content,
            (Verdict.INVALID, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE),
        ),
    ],
    ids=[
        "comment",
        "highlight",
        "hidden-free-text",
        "structure-tree",
        "named-destinations",
        "free-text-over-the-page",
        "stamp-over-the-page",
        "document-javascript",
        "page-content",
    ],
)
def test_changes_after_an_approval_signature(
    verifier: Verifier, signed_bt: bytes, change: object, expected: tuple[object, ...]
) -> None:
    report = verifier.verify(change(signed_bt))  # type: ignore[operator]
    assert _etsi(report) == expected
    sig = _first(report)
    if expected == PASSED:
        assert sig.changes and all(c.allowed for c in sig.changes)
        assert any("as permitted" in n for n in sig.notes)
    else:
        assert sig.reasons


BIG = (60.0, 600.0, 560.0, 760.0)  # over the body of the letter
HIGHLIGHT = (72.0, 712.0, 300.0, 742.0)


@pytest.mark.parametrize(
    ("kwargs", "allowed"),
    [
        (  # a sticky-note icon, drawn the way a mark is: light, blended
            {"appearance": b"/GS0 gs 1 1 0.4 rg 2 2 16 16 re f", "blend": "/Multiply"},
            True,
        ),
        ({"appearance": b"0 0 0.5 rg 2 2 16 16 re f"}, False),  # a dark patch
        ({"rect": BIG, "appearance": b"1 1 1 rg 0 0 500 160 re f"}, False),  # white-out
        (
            {"rect": BIG, "appearance": b"BT /Helv 40 Tf 20 60 Td (DA THANH TOAN) Tj ET"},
            False,
        ),
        (
            {
                "subtype": "/Highlight",
                "rect": HIGHLIGHT,
                "appearance": b"q /GS0 gs 1 1 0 rg 0 0 228 30 re f Q",
                "blend": "/Multiply",
            },
            True,
        ),
        (
            {"subtype": "/Highlight", "rect": HIGHLIGHT, "appearance": b"1 1 1 rg 0 0 228 30 re f"},
            False,
        ),
        (
            {
                "subtype": "/Highlight",
                "rect": HIGHLIGHT,
                "appearance": b"q /GS0 gs Q 1 1 1 rg 0 0 228 30 re f",
                "blend": "/Multiply",
            },
            False,
        ),
        (
            {
                "subtype": "/Underline",
                "rect": HIGHLIGHT,
                "appearance": b"/GS0 gs BT /Helv 20 Tf 0 5 Td (KHONG) Tj ET",
                "blend": "/Multiply",
            },
            False,
        ),
        (
            {
                "subtype": "/Highlight",
                "rect": HIGHLIGHT,
                "appearance": b"/GS0 gs 1 1 1 rg 0 0 228 30 re f",
                "blend": "/Normal",
            },
            False,
        ),
    ],
    ids=[
        "icon",
        "icon-sized-dark-patch",
        "note-painting-white-over-the-text",
        "note-writing-words",
        "highlight-multiply",
        "highlight-opaque",
        "highlight-blend-undone-by-Q",
        "underline-with-words",
        "highlight-normal-blend",
    ],
)
def test_an_annotation_appearance_decides_whether_a_reader_sees_a_change(
    verifier: Verifier, signed_bt: bytes, kwargs: dict[str, Any], allowed: bool
) -> None:
    """A comment's own appearance stream may draw anything in its rectangle: only a
    small icon, or shapes blended so they can only darken (never hide or add), are
    marks; anything else is an overlay, whatever the annotation calls itself."""
    report = verifier.verify(rw.add_comment(signed_bt, **kwargs))
    assert report.verdict == (Verdict.VALID if allowed else Verdict.INVALID), report.reasons
    if not allowed:
        assert "changes what a reader sees" in " ".join(report.reasons)


def test_each_change_is_reported_with_its_revision(verifier: Verifier, signed_bt: bytes) -> None:
    pdf = rw.add_structure_tree(rw.add_comment(signed_bt))
    sig = _first(verifier.verify(pdf))
    assert [(c.revision, c.kind, c.detail) for c in sig.changes] == [
        (2, "annotation", "Text annotation added on page 1"),
        (2, "annotation", "Popup annotation added on page 1"),
        (3, "structure_tree", "/StructTreeRoot added"),
    ]


def test_filling_a_form_after_an_approval_signature_is_invalid(
    verifier: Verifier, pki: ThrowawayPki, form_pdf: bytes
) -> None:
    """Without a certification that permits it, a filled field shows a value nobody
    signed (the shadow "replace" attack)."""
    report = verifier.verify(rw.fill_text_field(sign(form_pdf, pki, timestamp=True)))
    assert report.verdict == Verdict.INVALID
    assert "SoVanBan" in " ".join(_first(report).reasons)


# ------------------------------------------------------------------ DocMDP levels

ALLOWED = "allowed"
FORBIDDEN = "forbidden"

DOCMDP_CASES = {
    MDPPerm.NO_CHANGES: {
        "document-timestamp": ALLOWED,
        "fill": FORBIDDEN,
        "comment": FORBIDDEN,
        "page-content": FORBIDDEN,
    },
    MDPPerm.FILL_FORMS: {
        "document-timestamp": ALLOWED,
        "second-signature": ALLOWED,
        "fill": ALLOWED,
        "comment": FORBIDDEN,
        "overlay": FORBIDDEN,
    },
    MDPPerm.ANNOTATE: {
        "second-signature": ALLOWED,
        "fill": ALLOWED,
        "comment": ALLOWED,
        "overlay": FORBIDDEN,
        "page-content": FORBIDDEN,
    },
}


def _apply(name: str, pdf: bytes, pki: ThrowawayPki) -> bytes:
    if name == "document-timestamp":
        return h.add_document_timestamp(pdf, pki)
    if name == "second-signature":
        return rw.sign_with(pdf, pki, pki.signer, field="Sig2")
    if name == "fill":
        return rw.fill_text_field(pdf)
    if name == "comment":
        return rw.add_comment(pdf)
    if name == "overlay":
        return rw.add_comment(pdf, subtype="/FreeText")
    assert name == "page-content"
    return h.change_page_content(pdf)


@pytest.mark.parametrize(
    ("permission", "change"),
    [(p, c) for p, cases in DOCMDP_CASES.items() for c in cases],
    ids=[f"P{p.value}-{c}" for p, cases in DOCMDP_CASES.items() for c in cases],
)
def test_docmdp_levels_permit_exactly_what_iso_32000_2_says(
    verifier: Verifier, pki: ThrowawayPki, form_pdf: bytes, permission: MDPPerm, change: str
) -> None:
    certified = rw.sign_with(form_pdf, pki, pki.signer, certify=permission, timestamp=True)
    report = verifier.verify(_apply(change, certified, pki))
    sig = _first(report)
    assert sig.certification == permission.name
    if DOCMDP_CASES[permission][change] == ALLOWED:
        assert (sig.verdict, sig.indication) == (Verdict.VALID, Indication.TOTAL_PASSED), (
            sig.reasons
        )
    else:
        assert (sig.verdict, sig.indication, sig.sub_indication) == (
            Verdict.INVALID,
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
        )


# ------------------------------------------------------------------ outputs


def test_indications_appear_in_json_html_and_text(
    verifier: Verifier, foreign: ThrowawayPki
) -> None:
    from services.signing.verification.cli import summary
    from services.signing.verification.htmlreport import render_html

    report = verifier.verify(sign(minimal_pdf(), foreign))
    data = json.loads(report.to_json())
    assert data["indication"] == "INDETERMINATE"
    assert data["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert data["signatures"][0]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    assert "NO_CERTIFICATE_CHAIN_FOUND" in render_html(report)
    assert "ETSI: INDETERMINATE/NO_CERTIFICATE_CHAIN_FOUND" in summary(report)


def test_unsigned_document_has_no_indication(verifier: Verifier) -> None:
    report = verifier.verify(minimal_pdf())
    assert report.verdict == Verdict.UNSIGNED and report.indication is None

"""Revocation and what we sign: a revoked certificate refuses to sign; a document signed
before a revocation, checked afterwards with fresh revocation data fetched from our own
CRL/OCSP endpoints (served on 127.0.0.1), says what happened; B-LT needs no network."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.common.contract import Verdict
from services.signing.appearance import Profile
from services.signing.pades import Level
from services.signing.pki import revoking
from services.signing.pki.errors import CertificateUnusable
from services.signing.verification import SignatureReport
from tests.unit.signing.kit import AGENCY, PkiServer, SigningKit


@dataclass(frozen=True)
class Holder:
    agency: str
    serial: str


_counter = iter(range(10, 99))


def _new_agency(kit: SigningKit, name: str) -> Holder:
    """An agency of its own per test, so revoking touches nobody else's certificate."""
    agency = f"000.00.{next(_counter):02d}.H41"
    record = kit.pki.issue(agency=agency, kind="organization", name=name)
    return Holder(agency, record.serial)


def _revoke(kit: SigningKit, serial: str, at: datetime) -> None:
    """As `lienthong pki revoke` in another process would: only the database changes."""
    revoking.revoke(kit.db, serial, "keyCompromise", at=at)


def _sign_copy(kit: SigningKit, holder: Holder, level: Level, name: str) -> tuple[Path, datetime]:
    path, result = kit.sign(
        kit.letter(), Profile.COPY, level, agency=holder.agency, out=kit.workdir / name
    )
    return path, result.signed_at


def _leaf(signature: SignatureReport) -> tuple[str, str | None, str | None]:
    first = signature.revocation[0]
    return first.status, first.source, first.revoked_at


def test_a_revoked_certificate_refuses_to_sign(kit: SigningKit, tmp_path: Path) -> None:
    holder = _new_agency(kit, "Sở Tư pháp tỉnh Nghệ An")
    kit.pki.revoke(holder.serial, "keyCompromise")
    out = tmp_path / "never.pdf"
    with pytest.raises(CertificateUnusable, match="revoked") as raised:
        kit.sign(kit.letter(), Profile.COPY, Level.B_LT, agency=holder.agency, out=out)
    assert raised.value.status == 409
    assert raised.value.code == "certificate_unusable"
    assert out.read_bytes() == b""  # not a byte of a signed document


def test_a_revocation_by_another_process_stops_a_cached_signer(
    kit: SigningKit, tmp_path: Path
) -> None:
    """The key ring keeps signers; the certificate's status is read afresh every time."""
    holder = _new_agency(kit, "Sở Xây dựng tỉnh Nghệ An")
    kit.sign(kit.letter(), Profile.COPY, Level.B_B, agency=holder.agency, out=tmp_path / "1.pdf")
    _revoke(kit, holder.serial, at=datetime.now().astimezone())
    with pytest.raises(CertificateUnusable, match="revoked"):
        kit.sign(
            kit.letter(), Profile.COPY, Level.B_B, agency=holder.agency, out=tmp_path / "2.pdf"
        )


def test_b_t_signed_before_the_revocation_says_so_and_stays_valid(
    kit: SigningKit, pki_server: PkiServer
) -> None:
    holder = _new_agency(kit, "Sở Công Thương tỉnh Nghệ An")
    path, signed_at = _sign_copy(kit, holder, Level.B_T, "revoked-later-bt.pdf")
    offline = kit.verifier().verify(path)
    assert offline.verdict == Verdict.VALID, offline.reasons
    assert _leaf(offline.signatures[0])[0] == "unknown"  # B-T carries no revocation data

    _revoke(kit, holder.serial, at=signed_at + timedelta(minutes=1))
    report = kit.verifier(allow_fetching=True).verify(path, now=signed_at + timedelta(hours=1))
    assert pki_server.asked("/pki/ocsp") + pki_server.asked("/pki/crl") > 0
    signature = report.signatures[0]
    status, source, revoked_at = _leaf(signature)
    assert (status, source) == ("revoked", "fetched")
    assert revoked_at is not None
    assert datetime.fromisoformat(revoked_at) > signed_at
    # the time-stamp proves the signature came first: still valid, and the report says why
    assert report.verdict == Verdict.VALID, report.reasons
    assert any("after the proven signing time" in note for note in signature.notes)


def test_b_b_signed_before_the_revocation_cannot_prove_it(
    kit: SigningKit, pki_server: PkiServer
) -> None:
    holder = _new_agency(kit, "Sở Y tế tỉnh Nghệ An")
    path, signed_at = _sign_copy(kit, holder, Level.B_B, "revoked-later-bb.pdf")
    _revoke(kit, holder.serial, at=signed_at + timedelta(minutes=1))
    report = kit.verifier(allow_fetching=True).verify(path, now=signed_at + timedelta(hours=1))
    signature = report.signatures[0]
    assert _leaf(signature)[:2] == ("revoked", "fetched")
    assert report.verdict == Verdict.INDETERMINATE  # only the signer's word for the time
    assert any("no time-stamp proves" in reason for reason in signature.reasons)


def test_signed_after_the_revocation_is_invalid(kit: SigningKit, pki_server: PkiServer) -> None:
    """A key used after its certificate was revoked (say, a stolen copy of it)."""
    holder = _new_agency(kit, "Sở Nội vụ tỉnh Nghệ An")
    path, signed_at = _sign_copy(kit, holder, Level.B_T, "revoked-before.pdf")
    _revoke(kit, holder.serial, at=signed_at - timedelta(hours=1))
    report = kit.verifier(allow_fetching=True).verify(path)
    signature = report.signatures[0]
    assert _leaf(signature)[:2] == ("revoked", "fetched")
    assert report.verdict == Verdict.INVALID
    assert any("revoked" in reason for reason in signature.reasons)


def test_b_lt_verifies_with_the_endpoints_down(kit: SigningKit) -> None:
    """Nothing listens on the URLs in the certificates (no pki_server here): a B-LT
    document carries the CRLs it needs."""
    path, _result = kit.sign(kit.letter(), Profile.COPY, Level.B_LT, agency=AGENCY)
    report = kit.verifier(allow_fetching=True).verify(path)
    assert report.verdict == Verdict.VALID, report.reasons
    assert _leaf(report.signatures[0])[:2] == ("good", "dss")


def test_b_lt_signatures_share_a_validation_context_until_a_crl_changes(
    kit: SigningKit,
) -> None:
    """The context behind B-LT is kept while its CRLs stay the same, and what a signature
    made with a kept context embeds still proves it on its own."""
    from services.signing.verifier import LongTermValidation

    contexts = LongTermValidation(kit.pki)
    first = contexts()
    assert contexts() is first
    for n in range(2):  # the second signature finds the chain validated already
        path, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_LT, agency=AGENCY)
        report = kit.verifier(allow_fetching=False).verify(path)
        assert report.verdict == Verdict.VALID, (n, report.reasons)
        assert _leaf(report.signatures[0])[:2] == ("good", "dss")
    holder = _new_agency(kit, "Sở Thử nghiệm CRL")
    kit.pki.revoke(holder.serial, "keyCompromise")  # a new CRL is published
    assert contexts() is not first


def test_each_thread_has_its_own_validation_context(kit: SigningKit) -> None:
    import threading

    from services.signing.verifier import LongTermValidation

    contexts = LongTermValidation(kit.pki)
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(contexts()))
    thread.start()
    thread.join()
    assert seen and seen[0] is not contexts()


def test_a_kept_validation_context_is_replaced_when_it_is_too_old(kit: SigningKit) -> None:
    from services.signing.verifier import LongTermValidation

    contexts = LongTermValidation(kit.pki, max_age_seconds=0.0)
    assert contexts() is not contexts()

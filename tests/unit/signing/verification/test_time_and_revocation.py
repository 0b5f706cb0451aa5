"""Which time a certificate is judged at, and what revocation does to a signature."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from services.common.contract import Verdict
from services.signing.verification import Verifier
from tests.unit.signing.verification import helpers as h
from tests.unit.signing.verification.helpers import NOW, ThrowawayPki


def _sig(report):  # type: ignore[no-untyped-def]
    return report.signatures[0]


@pytest.fixture(scope="module")
def short_lived(pki: ThrowawayPki) -> h.Issued:
    """A signer whose certificate expires ten days from now."""
    return pki.issue("Short Lived", not_after=NOW + timedelta(days=10))


def test_expired_since_signing_b_t_is_valid_at_the_time_stamp(
    pki: ThrowawayPki, short_lived: h.Issued
) -> None:
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True, who=short_lived)
    later = NOW + timedelta(days=30)
    strict = Verifier([pki.root.pem], trust_claimed_signing_time=False)
    report = strict.verify(signed, now=later)
    assert report.verdict == Verdict.VALID, report.reasons
    assert _sig(report).validation_time_source == "signature_timestamp"


def test_expired_since_signing_b_b_uses_the_claimed_time_only_if_allowed(
    pki: ThrowawayPki, short_lived: h.Issued
) -> None:
    signed = h.sign(h.minimal_pdf(), pki, who=short_lived)
    later = NOW + timedelta(days=30)
    report = Verifier([pki.root.pem]).verify(signed, now=later)
    assert report.verdict == Verdict.VALID, report.reasons
    assert _sig(report).validation_time_source == "claimed"
    assert any("claimed" in n for n in _sig(report).notes)
    strict = Verifier([pki.root.pem], trust_claimed_signing_time=False)
    report = strict.verify(signed, now=later)
    assert report.verdict == Verdict.INDETERMINATE
    assert _sig(report).trust_problem == "OUT_OF_BOUNDS_NO_POE"


def test_b_lta_survives_the_expiry_of_the_signature_tsa(pki: ThrowawayPki) -> None:
    """The signature's TSA certificate expires; a later document time-stamp from another
    TSA proves the first token existed while it was valid."""
    old_tsa = pki.issue("Old TSA", tsa=True, not_after=NOW + timedelta(days=10))
    new_tsa = pki.issue("New TSA", tsa=True, not_after=NOW + timedelta(days=3000))
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True, tsa=old_tsa)
    lta = h.add_document_timestamp(
        h.add_dss(signed, pki, [pki.crl()], extra=[old_tsa, new_tsa]), pki, tsa=new_tsa
    )
    later = NOW + timedelta(days=30)
    verifier = Verifier([pki.root.pem])
    b_t_only = verifier.verify(signed, now=later)
    assert b_t_only.verdict == Verdict.INDETERMINATE  # its TSA has expired, nothing proves it
    report = verifier.verify(lta, now=later)
    assert report.verdict == Verdict.VALID, report.reasons
    sig = _sig(report)
    assert sig.timestamp is not None
    assert sig.timestamp.validation_time_source == "document_timestamp"
    assert sig.pades_level == "B-LTA"


def test_revoked_before_signing_is_invalid(pki: ThrowawayPki) -> None:
    victim = pki.issue("Revoked Before")
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True, who=victim)
    crl = pki.crl([(victim.cert, NOW - timedelta(hours=1))])
    report = Verifier([pki.root.pem]).verify(h.add_dss(signed, pki, [crl], extra=[victim]))
    assert report.verdict == Verdict.INVALID
    sig = _sig(report)
    assert any("revoked" in r for r in sig.reasons)
    assert sig.revocation[0].status == "revoked"
    assert sig.revocation[0].reason == "key_compromise"


def test_revoked_before_the_claimed_time_of_a_b_b_signature_is_invalid(
    pki: ThrowawayPki,
) -> None:
    victim = pki.issue("Revoked Before B-B")
    signed = h.sign(h.minimal_pdf(), pki, who=victim)
    crl = pki.crl([(victim.cert, NOW - timedelta(hours=1))])
    report = Verifier([pki.root.pem]).verify(h.add_dss(signed, pki, [crl], extra=[victim]))
    assert report.verdict == Verdict.INVALID


def test_revoked_after_a_time_stamp_is_still_valid(pki: ThrowawayPki) -> None:
    victim = pki.issue("Revoked Later")
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True, who=victim)
    crl = pki.crl([(victim.cert, NOW + timedelta(hours=1))], this_update=NOW + timedelta(hours=2))
    report = Verifier([pki.root.pem]).verify(
        h.add_dss(signed, pki, [crl], extra=[victim]), now=NOW + timedelta(days=1)
    )
    assert report.verdict == Verdict.VALID, report.reasons
    assert any("after the proven signing time" in n for n in _sig(report).notes)


def test_revoked_after_a_merely_claimed_time_is_indeterminate(pki: ThrowawayPki) -> None:
    """Without a time-stamp nothing proves the signature predates the revocation: a
    stolen key could back-date its claim."""
    victim = pki.issue("Revoked Later B-B")
    signed = h.sign(h.minimal_pdf(), pki, who=victim)
    crl = pki.crl([(victim.cert, NOW + timedelta(hours=1))], this_update=NOW + timedelta(hours=2))
    report = Verifier([pki.root.pem]).verify(
        h.add_dss(signed, pki, [crl], extra=[victim]), now=NOW + timedelta(days=1)
    )
    assert report.verdict == Verdict.INDETERMINATE
    assert any("no time-stamp proves" in r for r in _sig(report).reasons)


def test_no_network_without_fetching(
    pki: ThrowawayPki, signed_bt: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificates carry a CRL URL; with allow_fetching=False it is never used."""
    calls: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        calls.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    report = Verifier([pki.root.pem], allow_fetching=False).verify(signed_bt)
    assert report.verdict == Verdict.VALID
    assert report.fetching_allowed is False
    assert calls == []


def test_claimed_time_in_the_future_is_indeterminate(pki: ThrowawayPki, signed_bb: bytes) -> None:
    report = Verifier([pki.root.pem]).verify(signed_bb, now=NOW - timedelta(days=1))
    assert report.verdict == Verdict.INDETERMINATE
    assert any("future" in r for r in _sig(report).reasons)


def test_trust_roots_in_every_accepted_form(pki: ThrowawayPki, signed_bt: bytes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pem = tmp_path / "root.pem"
    pem.write_bytes(pki.root.pem + h.ThrowawayPki().root.pem)  # a bundle of two
    for roots in ([pki.root.cert], [pki.root.asn1], [pki.root.pem], [pem], [str(pem)]):
        assert Verifier(roots).verify(signed_bt).verdict == Verdict.VALID, roots

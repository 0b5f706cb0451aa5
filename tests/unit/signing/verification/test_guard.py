"""Time limits, the worker process, and the fast hex-string reader."""

from __future__ import annotations

import io
import os
import time

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError

from services.common.contract import Verdict
from services.signing.verification import ProcessVerifier, Verifier, fastparse
from services.signing.verification import structure as structure_mod
from tests.unit.signing.verification.helpers import ThrowawayPki


def test_a_hang_ends_with_a_verdict(
    pki: ThrowawayPki, signed_bt: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = structure_mod.inspect

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(3)
        return real(*args, **kwargs)

    monkeypatch.setattr(structure_mod, "inspect", slow)
    report = Verifier([pki.root.pem], timeout=0.3).verify(signed_bt)
    # Had the verifier waited for the slow step, the document would be valid: the
    # verdict itself shows the limit cut it short (tests do not time).
    assert report.verdict == Verdict.UNREADABLE
    assert any("did not finish" in r for r in report.reasons)


def test_an_exception_anywhere_fails_closed(
    pki: ThrowawayPki, signed_bt: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhanko.sign.validation import generic_cms

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("certvalidator exploded")

    monkeypatch.setattr(generic_cms, "cms_basic_validation", boom)
    report = Verifier([pki.root.pem]).verify(signed_bt)
    assert report.verdict == Verdict.INDETERMINATE
    assert any("certvalidator exploded" in r for r in report.reasons)


def test_an_exception_in_difference_analysis_is_invalid(
    pki: ThrowawayPki, signed_bt: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhanko.sign.diff_analysis import StandardDiffPolicy

    from tests.unit.signing.verification import helpers as h

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("/Broken")

    monkeypatch.setattr(StandardDiffPolicy, "review_file", boom)
    report = Verifier([pki.root.pem]).verify(h.add_dss(signed_bt, pki, [pki.crl()]))
    assert report.verdict == Verdict.INVALID
    assert any("could not be analysed" in r for r in report.reasons)


def test_process_verifier_kills_and_restarts_its_worker(
    pki: ThrowawayPki, signed_bt: bytes
) -> None:
    with ProcessVerifier([pki.root.pem], timeout=30) as pv:
        assert pv.verify(signed_bt).verdict == Verdict.VALID
        (first,) = pv.pool.pids
        stopped = pv.verify(signed_bt, timeout=0)  # cannot finish in no time
        assert stopped.verdict == Verdict.INDETERMINATE
        assert any("stopped" in r and "time" not in r[:0] for r in stopped.reasons)
        assert pv.restarts == 1
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)  # the old worker is gone
        report = pv.verify(io.BytesIO(signed_bt))
        assert report.verdict == Verdict.VALID
        assert pv.pool.pids != {first}


@pytest.mark.parametrize(
    "raw",
    [
        b"<48656c6c6f>",
        b"<48 65 6c\n6c 6f>",
        b"<4865 6c6c 6>",  # odd length: padded with 0
        b"<>",
        b"<FEFF00480069>",  # UTF-16 text string
        b"<48 % a comment > in it\n 65>",
        b"<4865zz>",
        b"<48656c",  # unterminated
        b"<" + b"ab" * 40000 + b">",
    ],
)
def test_fast_hex_reader_matches_pyhanko(raw: bytes) -> None:
    def run(fn):  # type: ignore[no-untyped-def]
        stream = io.BytesIO(raw + b" /Next")
        try:
            value = fn(stream)
        except PdfError as e:
            return ("error", type(e).__name__), None
        return (type(value).__name__, value.original_bytes), stream.tell()

    assert run(fastparse.read_hex_string_from_stream) == run(fastparse._ORIGINAL)


def test_fast_hex_reader_is_installed() -> None:
    import services.signing.verification.engine  # noqa: F401

    assert generic.read_hex_string_from_stream is fastparse.read_hex_string_from_stream


def test_one_verifier_serves_many_threads(
    verifier: Verifier, signed_bt: bytes, corpus_file: bytes
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.unit.signing.verification import helpers as h

    tampered = h.flip_byte(signed_bt, b"Hello, Lien Thong")
    jobs = [signed_bt, tampered, corpus_file] * 8
    expected = [Verdict.VALID, Verdict.INVALID, Verdict.UNSIGNED] * 8
    with ThreadPoolExecutor(max_workers=4) as pool:
        verdicts = [r.verdict for r in pool.map(verifier.verify, jobs)]
    assert verdicts == expected


@pytest.fixture
def corpus_file(corpus) -> bytes:  # type: ignore[no-untyped-def]
    return (corpus / "pdf-real" / "001-trivial" / "minimal-document.pdf").read_bytes()

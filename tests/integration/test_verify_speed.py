"""Throughput of the verifier on a one-page PAdES B-T document (issue 3: at least 50/s).

The number is printed (``pytest -s``); bench/ reports it side by side with plain pyHanko.
"""

from __future__ import annotations

import io
import logging
import time

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.signing.verification import Verdict, Verifier
from tests.unit.signing.verification import helpers as h

ROUNDS, PER_ROUND = 5, 25


def _rate(fn) -> float:  # type: ignore[no-untyped-def]
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(PER_ROUND):
            fn()
        best = max(best, PER_ROUND / (time.perf_counter() - started))
    return best


def test_b_t_verifications_per_second() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    pki = h.ThrowawayPki()
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True)
    verifier = Verifier([pki.root.pem], allow_fetching=False)
    assert verifier.verify(signed).verdict == Verdict.VALID

    ours = _rate(lambda: verifier.verify(signed))

    def plain() -> None:
        sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
        validate_pdf_signature(sig, ValidationContext(trust_roots=[pki.root.asn1]))

    theirs = _rate(plain)
    print(
        f"\nB-T verification: {ours:.1f}/s (plain pyHanko validate_pdf_signature: {theirs:.1f}/s)"
    )
    assert ours >= 50, f"{ours:.1f} verifications/s"

"""Our verifier and plain pyHanko agree on a one-page PAdES B-T document, again and
again on the same bytes. Its speed (issue 3: at least 50/s) is measured in bench/
side by side with plain pyHanko, never asserted here: tests do not time."""

from __future__ import annotations

import io
import logging

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from services.common.contract import Verdict
from services.signing.verification import Verifier
from tests.unit.signing.verification import helpers as h


def test_b_t_document_is_valid_for_us_and_for_plain_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    pki = h.ThrowawayPki()
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True)
    verifier = Verifier([pki.root.pem], allow_fetching=False)
    for _ in range(5):  # caches inside the verifier must not change the answer
        assert verifier.verify(signed).verdict == Verdict.VALID

    sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    status = validate_pdf_signature(sig, ValidationContext(trust_roots=[pki.root.asn1]))
    assert status.bottom_line

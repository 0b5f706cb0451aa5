"""A throw-away PKI shared by the verification tests, and the shared corpus location."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.signing.verification import Verifier
from tests.unit.signing.verification.helpers import ThrowawayPki, minimal_pdf, sign

#: /work/main/tests/unit/signing/verification/conftest.py -> /work/shared/corpus
CORPUS = Path(__file__).resolve().parents[4] / ".." / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared test corpus is missing at {CORPUS.resolve()}")
    return CORPUS


@pytest.fixture(scope="session")
def pki() -> ThrowawayPki:
    return ThrowawayPki()


@pytest.fixture(scope="session")
def verifier(pki: ThrowawayPki) -> Verifier:
    return Verifier([pki.root.pem], allow_fetching=False)


@pytest.fixture(scope="session")
def signed_bt(pki: ThrowawayPki) -> bytes:
    """A one-page PDF signed at PAdES B-T (in-process time-stamping authority)."""
    return sign(minimal_pdf(), pki, timestamp=True)


@pytest.fixture(scope="session")
def signed_bb(pki: ThrowawayPki) -> bytes:
    return sign(minimal_pdf(), pki)

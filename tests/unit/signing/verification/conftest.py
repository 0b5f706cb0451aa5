"""A throw-away PKI shared by the verification tests.

The ``corpus`` fixture (tests/corpus, in the repository) comes from tests/conftest.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from services.signing.verification import Verifier
from tests.unit.signing.verification.attack_pdfs import letter
from tests.unit.signing.verification.helpers import ThrowawayPki, minimal_pdf, sign


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


@pytest.fixture
def quiet() -> Iterator[None]:
    """pyHanko logs every refused chain or change with a traceback; the reports say it
    in words (``pytestmark = pytest.mark.usefixtures("quiet")``)."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def signed(pki: ThrowawayPki) -> bytes:
    """The two-page letter the attacks start from, approval-signed."""
    return sign(letter(), pki)

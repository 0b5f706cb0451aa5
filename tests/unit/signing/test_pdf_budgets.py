"""Budgets for all work on untrusted PDFs: hostile files (tests/unit/signing/hostile.py)
get a 422 or an indeterminate verdict naming the budget, within the budget plus 1 s,
and one slow document does not delay the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.contract import Verdict
from services.common.errors import SettingsError
from services.signing.appearance import Profile
from services.signing.errors import PdfOverBudget
from services.signing.pades import Level
from services.signing.pdfpool import PdfPool
from services.signing.pdfwork import PooledReading
from services.signing.settings import PdfLimits
from services.signing.verification import ProcessVerifier
from tests.unit.signing import hostile
from tests.unit.signing.kit import AGENCY, LEADER, SigningKit, settings_for
from tests.unit.signing.test_signing_api import Signing, assert_problem, running

TIMEOUT = 10.0  # the time budget these tests give the service
MAX_REVISIONS = 200
GROWTH_MB = 200  # what signing a bomb may add to the service process's peak memory


@pytest.fixture(scope="module")
def budgeted(kit: SigningKit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signing]:
    settings = settings_for(
        tmp_path_factory.mktemp("budgets") / "data",
        kit.settings.pki_dir,
        LIENTHONG_SIGNING_PUBLIC_URL=kit.public_url,
        LIENTHONG_BROKER_URL="memory://",
        LIENTHONG_PDF_WORKERS="2",
        LIENTHONG_PDF_TIMEOUT_SECONDS=str(TIMEOUT),
        LIENTHONG_PDF_MAX_DECODED_MB="32",
        LIENTHONG_PDF_MAX_REVISIONS=str(MAX_REVISIONS),
    )
    with running(settings) as service:
        yield service


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 MB on disk, 1 GiB of drawing operators once inflated."""
    path = tmp_path_factory.mktemp("hostile") / "bomb.pdf"
    path.write_bytes(hostile.content_bomb(1024))
    return path


@pytest.fixture(scope="module")
def many_revisions(kit: SigningKit) -> bytes:
    """A signed letter followed by 2,500 empty incremental updates (about 520 KB)."""
    signed, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_T)
    return hostile.with_empty_updates(signed.read_bytes(), 2500)


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


# --- signing -----------------------------------------------------------------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize("profile", ["personal", "copy", "attachment"])
def test_signing_a_decompression_bomb_is_a_422_within_budget(
    budgeted: Signing, bomb: Path, profile: str
) -> None:
    document = budgeted.receive(bomb.read_bytes())
    peak = _peak_rss_mb()
    started = time.monotonic()
    body = {"profile": profile, "agency": AGENCY, "person": LEADER}
    response = budgeted.sign(document, body)
    elapsed = time.monotonic() - started
    problem = assert_problem(response, 422, "pdf_over_budget")
    assert problem["budget"] == "decoded bytes"
    assert "LIENTHONG_PDF_MAX_DECODED_MB" in problem["detail"]
    assert elapsed < TIMEOUT + 1
    assert _peak_rss_mb() - peak < GROWTH_MB


@pytest.fixture(scope="module")
def slow_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 MiB of drawing operators: minutes of pdfminer's time, little memory."""
    path = tmp_path_factory.mktemp("hostile") / "slow-bomb.pdf"
    path.write_bytes(hostile.content_bomb(16))
    return path


@pytest.mark.timeout(60)
def test_a_bomb_past_the_time_budget_loses_its_worker(slow_bomb: Path) -> None:
    bomb = slow_bomb
    limits = PdfLimits(workers=1, timeout_seconds=2, max_decoded_mb=4096)
    with PdfPool(limits) as pool:
        reading = PooledReading(pool)
        assert reading.facts(bomb)[0] == 1  # the worker is up: start-up is not charged
        (worker,) = pool.pids
        started = time.monotonic()
        with pytest.raises(PdfOverBudget) as caught:
            reading.page(bomb, 0)
        assert time.monotonic() - started < limits.timeout_seconds + 1
        assert caught.value.budget == "time"
        assert pool.restarts == 1
        assert worker not in pool.pids
        assert reading.facts(bomb)[0] == 1  # a fresh worker took its place


@pytest.mark.timeout(120)
def test_page_true_is_not_page_one(budgeted: Signing) -> None:
    document = budgeted.receive(hostile.simple_page())
    for page in (True, 1.0, "1"):
        response = budgeted.sign(
            document,
            {
                "profile": "copy",
                "agency": AGENCY,
                "page": page,
                "box": [400, 700, 550, 780],
            },
        )
        assert_problem(response, 422)


@pytest.mark.timeout(120)
def test_a_box_of_anything_but_finite_points_is_refused(budgeted: Signing) -> None:
    document = budgeted.receive(hostile.simple_page())
    for box in ([400, 700, 550, True], [400, 700, 550, 1e308], [0, 0, -20000, 1], [1, 2, 3]):
        response = budgeted.sign(
            document, {"profile": "copy", "agency": AGENCY, "page": 1, "box": box}
        )
        assert_problem(response, 422)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("claimed", [2**31, 2**63])
def test_a_lying_page_count_is_not_believed(budgeted: Signing, claimed: int) -> None:
    document = budgeted.receive(hostile.lying_count(claimed))
    box = [400, 700, 550, 780]
    beyond = budgeted.sign(document, {"profile": "copy", "agency": AGENCY, "page": 2, "box": box})
    assert "has 1 pages" in assert_problem(beyond, 422)["detail"]
    signed = budgeted.sign(document, {"profile": "copy", "agency": AGENCY, "box": box, "page": 1})
    assert signed.status_code == 201, signed.get_data(as_text=True)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("made", [hostile.deep_page_tree, hostile.deep_array])
def test_deep_nesting_is_a_422(budgeted: Signing, made: object) -> None:
    assert callable(made)
    document = budgeted.receive(made())
    response = budgeted.sign(document, {"profile": "copy", "agency": AGENCY})
    assert_problem(response, 422)


# --- verification ------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_thousands_of_revisions_are_indeterminate_within_budget(
    budgeted: Signing, many_revisions: bytes
) -> None:
    budgeted.client.post(  # start the workers: their start-up is not the document's time
        "/v1/verify",
        data=hostile.simple_page(),
        headers={**budgeted.auth, "Content-Type": "application/pdf"},
    )
    started = time.monotonic()
    response = budgeted.client.post(
        "/v1/verify",
        data=many_revisions,
        headers={**budgeted.auth, "Content-Type": "application/pdf"},
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    report = response.get_json()
    assert report["verdict"] == Verdict.INDETERMINATE.value
    assert any(
        "2502 revisions" in r and "LIENTHONG_PDF_MAX_REVISIONS" in r for r in report["reasons"]
    )
    assert elapsed < TIMEOUT + 1


@pytest.mark.timeout(180)
def test_one_slow_verification_does_not_delay_another(
    kit: SigningKit, many_revisions: bytes
) -> None:
    normal, _ = kit.sign(kit.letter(), Profile.COPY, Level.B_T)
    roots = [kit.pki.material.root_cert]
    # no revision budget here: the slow file takes its full (superlinear) time
    with ProcessVerifier(roots, workers=2, timeout=120, max_revisions=10**6) as pv:
        assert pv.verify(normal).verdict == Verdict.VALID  # one worker up
        slow: dict[str, float] = {}

        def verify_slow() -> None:
            pv.verify(many_revisions)
            slow["done"] = time.monotonic()

        thread = threading.Thread(target=verify_slow)
        thread.start()
        deadline = time.monotonic() + 30
        while len(pv.pool.busy_pids) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        report = pv.verify(normal)
        answered = time.monotonic()
        assert report.verdict == Verdict.VALID
        thread.join()
        assert answered < slow["done"], "the normal document waited for the slow one"


# --- the worker's memory -----------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_the_worker_has_a_memory_limit() -> None:
    limits = PdfLimits(workers=1, memory_mb=768)
    with PdfPool(limits, preload=()) as pool:
        assert pool.run("tests.unit.signing.hostile:allocate", 16) == 16 * 1024 * 1024
        (pid,) = pool.pids
        text = Path(f"/proc/{pid}/limits").read_text()
        line = next(x for x in text.splitlines() if x.startswith("Max address space"))
        assert line.split()[3] == str(768 * 1024 * 1024)
        with pytest.raises(PdfOverBudget) as caught:
            pool.run("tests.unit.signing.hostile:allocate", 2048)
        assert caught.value.budget == "memory"
        assert (
            pool.run("tests.unit.signing.hostile:allocate", 16) == 16 * 1024 * 1024
        )  # a fresh worker


@pytest.mark.timeout(120)
def test_a_starting_service_starts_every_worker_before_the_first_document() -> None:
    limits = PdfLimits(workers=2)
    with PdfPool(limits, preload=()) as pool:
        pool.prestart()
        started = pool.pids
        assert len(started) == 2
        pool.prestart()  # all there: nothing more starts
        assert pool.pids == started
        assert pool.run("tests.unit.signing.hostile:allocate", 1) == 1024 * 1024
        assert pool.pids == started


def test_prestart_stops_when_the_service_does() -> None:
    stop = threading.Event()
    stop.set()
    with PdfPool(PdfLimits(workers=2), preload=()) as pool:
        pool.prestart(stop)
        assert pool.pids == set()


# --- settings ----------------------------------------------------------------------------------


def test_pdf_budget_settings(tmp_path: Path) -> None:
    defaults = settings_for(tmp_path / "d", tmp_path / "p").pdf
    assert defaults == PdfLimits()
    set_ = settings_for(
        tmp_path / "d",
        tmp_path / "p",
        LIENTHONG_PDF_WORKERS="4",
        LIENTHONG_PDF_TIMEOUT_SECONDS="2.5",
        LIENTHONG_PDF_MEMORY_MB="2048",
        LIENTHONG_PDF_MAX_DECODED_MB="16",
        LIENTHONG_PDF_MAX_REVISIONS="50",
        LIENTHONG_PDF_MAX_OBJECTS="1000",
        LIENTHONG_PDF_QUEUE_SECONDS="5",
    ).pdf
    assert set_ == PdfLimits(4, 2.5, 2048, 16, 50, 1000, 5.0)
    for name, value in (
        ("PDF_WORKERS", "0"),
        ("PDF_TIMEOUT_SECONDS", "0"),
        ("PDF_TIMEOUT_SECONDS", "soon"),
        ("PDF_MEMORY_MB", "10"),
        ("PDF_MAX_REVISIONS", "0"),
    ):
        with pytest.raises(SettingsError, match=name):
            settings_for(tmp_path / "d", tmp_path / "p", **{f"LIENTHONG_{name}": value})

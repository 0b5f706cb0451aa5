"""The webhook worker on SQLite with a fake transport (no sockets): what each answer
does to a job, the retry schedule it writes, leases, and the signed request."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.common.db import Database
from services.common.wiring import migrate
from services.ingest.agencies import add_agency
from services.ingest.models import WebhookJob
from services.ingest.settings import WebhookSettings
from services.ingest.webhooks import store as webhook_store
from services.ingest.webhooks.http import HttpTransport, Outcome, classify
from services.ingest.webhooks.network import AddressGuard
from services.ingest.webhooks.rules import SecretBox, verify_webhook_signature
from services.ingest.webhooks.worker import WebhookWorker
from testkit.infra import free_port
from tests.unit.ingest.test_webhooks_kit import fake_resolve

AGENCY = "000.00.01.H41"
BOX = SecretBox(["unit-test-key-0123456789"])
SETTINGS = WebhookSettings(
    backoff_base=10.0, backoff_cap=100.0, max_age=3600.0, secret_keys=("unit-test-key-0123456789",)
)


@dataclass
class FakeReceiver:
    """Answers from a script (the last one repeats); remembers every request."""

    script: list[Outcome]
    requests: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        self.requests.append((url, body, headers))
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@dataclass
class Setup:
    db: Database
    secret: str

    def queue(self, n: int = 1) -> list[str]:
        ids = []
        with self.db.unit_of_work() as session:
            for _ in range(n):
                job = webhook_store.enqueue(
                    session,
                    AGENCY,
                    "delivery.received",
                    role="recipient",
                    data={"n": str(uuid.uuid4())},
                    dedupe_key=str(uuid.uuid4()),
                )
                assert job is not None
                ids.append(job)
        return ids

    def job(self, job_id: str) -> WebhookJob:
        with self.db.reading() as session:
            job = session.get(WebhookJob, job_id)
        assert job is not None
        return job

    def age(self, job_id: str, seconds: float) -> None:
        """Pretend the job was queued ``seconds`` ago, and is due."""
        past = datetime.now(UTC) - timedelta(seconds=seconds)
        with self.db.unit_of_work() as session:
            session.execute(
                sa.update(WebhookJob)
                .where(WebhookJob.id == job_id)
                .values(created_at=past, next_attempt_at=past)
            )

    def make_due(self, job_id: str) -> None:
        with self.db.unit_of_work() as session:
            session.execute(
                sa.update(WebhookJob)
                .where(WebhookJob.id == job_id)
                .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    url = f"sqlite:///{tmp_path / 'ingest.sqlite3'}"
    migrate("ingest", url)
    db = Database(url)
    add_agency(db, AGENCY, "Sở Nội vụ")
    _view, secret, _created = webhook_store.register_webhook(
        db,
        BOX,
        AGENCY,
        "https://vanban.example.gov.vn/hook",
        guard=AddressGuard(allow_loopback=False, resolve=fake_resolve),
    )
    yield Setup(db, secret)
    db.dispose()


def worker(setup: Setup, receiver: FakeReceiver, **settings: float) -> WebhookWorker:
    values = {**SETTINGS.__dict__, **settings}
    return WebhookWorker(
        setup.db, BOX, WebhookSettings(**values), transport=receiver, rng=lambda: 1.0
    )


def test_a_2xx_delivers_with_signed_headers(setup: Setup) -> None:
    [job_id] = setup.queue()
    receiver = FakeReceiver([Outcome(delivered=True, status=204)])

    assert worker(setup, receiver).run_once() == 1

    job = setup.job(job_id)
    assert job.delivered_at is not None and job.dead_at is None
    assert (job.attempts, job.last_status) == (1, 204)
    [(url, body, headers)] = receiver.requests
    assert url == "https://vanban.example.gov.vn/hook"
    assert headers["X-LienThong-Event"] == "delivery.received"
    assert headers["X-LienThong-Delivery"] == job_id
    assert headers["X-LienThong-Attempt"] == "1"
    assert headers["Content-Type"].startswith("application/json")
    assert verify_webhook_signature(
        setup.secret, headers["X-LienThong-Timestamp"], body, headers["X-LienThong-Signature"]
    )
    assert json.loads(body)["id"] == job_id
    assert worker(setup, receiver).run_once() == 0  # nothing left to send


def _scheduled_within(job: WebhookJob, before: datetime, after: datetime, delay: float) -> bool:
    """The next attempt is ``delay`` seconds after the moment the outcome was recorded,
    which lies between ``before`` and ``after``."""
    due = job.next_attempt_at.replace(tzinfo=UTC)
    return before + timedelta(seconds=delay) <= due <= after + timedelta(seconds=delay)


def test_a_transient_failure_is_retried_after_the_backoff(setup: Setup) -> None:
    [job_id] = setup.queue()
    receiver = FakeReceiver([Outcome(retry=True, status=503, error="HTTP 503")])
    w = worker(setup, receiver)

    before = datetime.now(UTC)
    w.run_once()
    after = datetime.now(UTC)

    job = setup.job(job_id)
    assert job.delivered_at is None and job.dead_at is None
    assert (job.attempts, job.last_status, job.last_error) == (1, 503, "HTTP 503")
    assert _scheduled_within(job, before, after, 10.0)  # rng 1.0: the ceiling, base * 2**0
    assert w.run_once() == 0  # not due yet

    setup.make_due(job_id)
    before = datetime.now(UTC)
    w.run_once()
    after = datetime.now(UTC)
    job = setup.job(job_id)
    assert job.attempts == 2 and _scheduled_within(job, before, after, 20.0)  # base * 2**1
    ids = {h["X-LienThong-Delivery"] for _u, _b, h in receiver.requests}
    assert ids == {job_id}  # the same id on every retry


def test_retry_after_is_honoured_up_to_the_cap(setup: Setup) -> None:
    first, second = setup.queue(2)
    before = datetime.now(UTC)
    worker(
        setup,
        FakeReceiver([Outcome(retry=True, status=429, retry_after=50.0)]),
    ).run_once()
    after = datetime.now(UTC)
    # rng 1.0 gives 10 s; the receiver asked for 50.
    assert _scheduled_within(setup.job(first), before, after, 50.0)
    assert _scheduled_within(setup.job(second), before, after, 50.0)
    setup.make_due(first)
    before = datetime.now(UTC)
    worker(setup, FakeReceiver([Outcome(retry=True, status=429, retry_after=9999.0)])).run_once()
    after = datetime.now(UTC)
    assert _scheduled_within(setup.job(first), before, after, 100.0)  # the cap


def test_a_permanent_failure_is_dead_at_once(setup: Setup) -> None:
    [job_id] = setup.queue()
    worker(setup, FakeReceiver([Outcome(status=410, error="HTTP 410: gone")])).run_once()
    job = setup.job(job_id)
    assert job.dead_at is not None and job.delivered_at is None
    assert (job.attempts, job.last_status, job.last_error) == (1, 410, "HTTP 410: gone")


def test_a_job_older_than_the_maximum_age_is_dead_after_its_next_failure(setup: Setup) -> None:
    young, old = setup.queue(2)
    setup.age(old, 3601)
    worker(setup, FakeReceiver([Outcome(retry=True, status=500, error="HTTP 500")])).run_once()

    assert setup.job(young).dead_at is None
    job = setup.job(old)
    assert job.dead_at is not None
    assert job.last_error == "HTTP 500 (gave up after 1 attempts)"


def test_the_last_retry_is_at_the_deadline_not_after_it(setup: Setup) -> None:
    [job_id] = setup.queue()
    setup.age(job_id, 3595)  # 5 s of the hour left; the backoff would say 10 s
    worker(setup, FakeReceiver([Outcome(retry=True, error="timed out")])).run_once()
    job = setup.job(job_id)
    assert job.dead_at is None
    deadline = job.created_at.replace(tzinfo=UTC) + timedelta(seconds=3600)
    assert job.next_attempt_at.replace(tzinfo=UTC) == deadline


def test_a_manual_retry_restarts_the_age(setup: Setup) -> None:
    [job_id] = setup.queue()
    setup.age(job_id, 7200)
    failing = FakeReceiver([Outcome(retry=True, status=500, error="HTTP 500")])
    worker(setup, failing).run_once()
    assert setup.job(job_id).dead_at is not None

    webhook_store.retry_job(setup.db, job_id)
    worker(setup, failing).run_once()
    job = setup.job(job_id)
    assert job.dead_at is None and job.attempts == 1  # pending again, with a new window


def test_a_removed_webhook_kills_its_queued_jobs(setup: Setup) -> None:
    [job_id] = setup.queue()
    webhook_store.remove_webhook(setup.db, AGENCY)
    receiver = FakeReceiver([Outcome(delivered=True, status=200)])
    worker(setup, receiver).run_once()
    assert receiver.requests == []
    assert "no webhook" in (setup.job(job_id).last_error or "")


def test_an_unreadable_secret_is_retried_not_sent(setup: Setup) -> None:
    [job_id] = setup.queue()
    receiver = FakeReceiver([Outcome(delivered=True, status=200)])
    other = WebhookWorker(
        setup.db, SecretBox(["another-key-0123456789"]), SETTINGS, transport=receiver
    )
    other.run_once()
    job = setup.job(job_id)
    assert receiver.requests == [] and job.dead_at is None
    assert "LIENTHONG_WEBHOOK_SECRET_KEY" in (job.last_error or "")


def test_a_transport_that_raises_is_a_transient_failure(setup: Setup) -> None:
    [job_id] = setup.queue()

    def broken(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        raise RuntimeError("boom")

    WebhookWorker(setup.db, BOX, SETTINGS, transport=broken).run_once()
    job = setup.job(job_id)
    assert job.dead_at is None and job.last_error == "RuntimeError: boom"


def test_claims_are_leased_and_a_late_answer_after_a_lost_lease_is_ignored(setup: Setup) -> None:
    [job_id] = setup.queue()
    receiver = FakeReceiver([Outcome(delivered=True, status=200)])
    slow, fast = worker(setup, receiver), worker(setup, receiver)

    [claimed] = slow.claim(10)
    assert fast.claim(10) == []  # leased: nobody else takes it
    assert setup.job(job_id).attempts == 1
    setup.make_due(job_id)  # the lease ran out (the first worker hung)
    [again] = fast.claim(10)
    assert again.attempt == 2

    assert slow.record(claimed, Outcome(retry=True, error="late")) == "lost"
    assert fast.deliver(again) == "delivered"
    assert setup.job(job_id).last_error is None


def test_jobs_claimed_but_never_sent_are_released(setup: Setup) -> None:
    [job_id] = setup.queue()
    w = worker(setup, FakeReceiver([Outcome(delivered=True, status=200)]))
    claimed = w.claim(10)
    w.release(claimed)
    job = setup.job(job_id)
    assert job.attempts == 0
    assert w.seconds_until_due() == 0.0


@pytest.mark.parametrize(
    ("status", "delivered", "retry"),
    [
        (200, True, False),
        (202, True, False),
        (299, True, False),
        (500, False, True),
        (502, False, True),
        (503, False, True),
        (429, False, True),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (408, False, False),
        (410, False, False),
        (301, False, False),
        (302, False, False),
    ],
)
def test_answers_are_classified(status: int, delivered: bool, retry: bool) -> None:
    outcome = classify(status, "body text")
    assert (outcome.delivered, outcome.retry, outcome.status) == (delivered, retry, status)
    if not delivered:
        assert outcome.error and outcome.error.startswith(f"HTTP {status}")
    assert classify(429, "", "120").retry_after == 120.0
    assert classify(503, "", "Wed, 21 Oct 2026 07:28:00 GMT").retry_after is None
    assert classify(503, "", "nan").retry_after is None
    assert classify(503, "", "-5").retry_after == 0.0


def test_a_manual_retry_while_a_send_is_in_flight_makes_that_send_stale(setup: Setup) -> None:
    [job_id] = setup.queue()
    receiver = FakeReceiver([Outcome(delivered=True, status=200)])
    first, second = worker(setup, receiver), worker(setup, receiver)
    [in_flight] = first.claim(10)

    webhook_store.retry_job(setup.db, job_id)  # the agency asks again meanwhile
    [again] = second.claim(10)
    assert again.attempt == in_flight.attempt == 1  # same count, another lease

    assert first.record(in_flight, Outcome(status=410, error="HTTP 410")) == "lost"
    assert second.deliver(again) == "delivered"


@pytest.mark.parametrize(
    "url", ["http://localhost:9/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/hook"]
)
def test_the_http_transport_refuses_loopback_at_send_time(url: str) -> None:
    strict = HttpTransport(WebhookSettings(allow_loopback=False, connect_timeout=0.5))
    outcome = strict(url, b"{}", {})
    assert not outcome.delivered and not outcome.retry
    assert outcome.error and "refused" in outcome.error


def test_the_http_transport_retries_when_nothing_listens() -> None:
    lenient = HttpTransport(WebhookSettings(allow_loopback=True, connect_timeout=0.5))
    outcome = lenient(f"http://127.0.0.1:{free_port()}/hook", b"{}", {})
    assert outcome.retry and not outcome.delivered
    assert outcome.error and "ConnectionError" in outcome.error

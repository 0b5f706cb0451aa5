"""Push delivery on the real stack: ingest's workers on RabbitMQ and PostgreSQL, posting
to a real HTTP receiver on loopback that can be told to succeed, fail, hang, answer
slowly or say the endpoint is gone. Backoffs are milliseconds; nothing here asserts
how long anything took."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from services.common.bus import topology
from services.common.bus.messages import DeliveryOverdue, DeliveryStatusChanged
from services.common.contract import Status
from services.common.runtime import Runner
from testkit.infra import RabbitVhost
from tests.integration.test_webhooks_kit import (
    RECIPIENT,
    SENDER,
    Receiver,
    Stack,
    delivered,
    dispatched,
    eventually,
    handler_for,
    start_ingest,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    server.daemon_threads = True
    server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/lienthong"
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_stack(
    tmp_path: Path, pg_urls: dict[str, str], fresh_rabbit: RabbitVhost
) -> Iterator[Callable[..., Stack]]:
    runners: list[Runner] = []

    def make(**overrides: str) -> Stack:
        env = {
            "LIENTHONG_DATA_DIR": str(tmp_path / "data"),
            "LIENTHONG_BROKER_URL": fresh_rabbit.url,
            "LIENTHONG_INGEST_DATABASE_URL": pg_urls["ingest"],
            "LIENTHONG_WEBHOOK_ALLOW_LOOPBACK": "true",  # the receiver is on 127.0.0.1
            "LIENTHONG_WEBHOOK_CONNECT_TIMEOUT": "2",
            "LIENTHONG_WEBHOOK_TIMEOUT": "0.5",
            "LIENTHONG_WEBHOOK_BACKOFF_BASE": "0.005",
            "LIENTHONG_WEBHOOK_BACKOFF_CAP": "0.05",
            **{f"LIENTHONG_{k}": v for k, v in overrides.items()},
        }
        return start_ingest(env, runners)

    yield make
    for runner in runners:
        runner.shutdown()


# --- the scenarios -----------------------------------------------------------------------------


def test_pushed_once_with_a_valid_signature_through_the_connector(
    make_stack: Callable[..., Stack], receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    stack = make_stack()
    recipient_secret = stack.register(RECIPIENT, url)
    sender_secret = stack.register(SENDER, url + "?as=sender")
    msg = dispatched(stack.document())

    # routing's delivery reaches the recipient's queue on RabbitMQ; the connector takes it.
    stack.publish(msg, topology.AGENCY.name, RECIPIENT)

    # The copy lands: the recipient is told it arrived, and both sides get status 01,
    # which the connector records itself (routing does not announce it back).
    eventually(lambda: rx.count() == 3, "the arrival pushes")
    eventually(lambda: all(j.delivered_at for j in stack.jobs()), "all delivered")
    [job] = [j for j in stack.jobs() if j.event == "delivery.received"]
    [push] = [p for p in rx.received if p.headers["X-LienThong-Event"] == "delivery.received"]
    assert push.verifies(recipient_secret)
    assert not push.verifies(sender_secret)
    assert push.headers["X-LienThong-Delivery"] == job.id
    body = json.loads(push.body)
    assert (body["id"], body["type"], body["agency"]) == (job.id, "delivery.received", RECIPIENT)
    assert body["data"]["delivery_id"] == msg.delivery_id
    arrived = {
        json.loads(p.body)["role"]: p
        for p in rx.received
        if p.headers["X-LienThong-Event"] == "delivery.status_changed"
    }
    assert arrived["recipient"].verifies(recipient_secret)
    assert arrived["sender"].verifies(sender_secret)
    assert json.loads(arrived["sender"].body)["data"]["status"] == "01"
    assert stack.worker.run_once() == 0  # nothing more to send: each delivered once
    assert rx.count() == 3
    assert [i["delivery_id"] for i in stack.inbox()] == [msg.delivery_id]

    # routing records 03; its event reaches both sides' webhooks.
    stack.publish(
        DeliveryStatusChanged(
            delivery_id=msg.delivery_id,
            document=msg.document,
            recipient=RECIPIENT,
            code=Status.REGISTERED,
            status=Status.REGISTERED,
            seq=2,
            at=datetime.now(UTC).isoformat(),
            reported_by=RECIPIENT,
            description="Đã vào sổ",
            staff={"Staff": "Trần Thị B"},
        ),
        topology.EVENTS.name,
        "delivery.status_changed",
    )
    eventually(lambda: rx.count() == 5, "the status pushes")
    eventually(lambda: all(j.delivered_at for j in stack.jobs()), "all delivered")
    status_pushes = {json.loads(p.body)["role"]: p for p in rx.received[3:]}
    assert status_pushes["recipient"].verifies(recipient_secret)
    assert status_pushes["sender"].verifies(sender_secret)
    assert json.loads(status_pushes["sender"].body)["data"]["status"] == "03"
    assert rx.count() == 5

    # routing's deadline scheduler finds it late: the recipient and the sender are told.
    stack.publish(
        DeliveryOverdue(
            delivery_id=msg.delivery_id,
            document=msg.document,
            document_id=msg.document_id,
            sender=SENDER,
            recipient=RECIPIENT,
            subject=msg.subject,
            status=Status.REGISTERED,
            due_at=datetime.now(UTC).isoformat(),
            noticed_at=datetime.now(UTC).isoformat(),
        ),
        topology.EVENTS.name,
        "delivery.overdue",
    )
    eventually(lambda: rx.count() == 7, "the overdue pushes")
    eventually(lambda: all(j.delivered_at for j in stack.jobs()), "all delivered")
    overdue = [p for p in rx.received[5:] if p.headers["X-LienThong-Event"] == "delivery.overdue"]
    assert sorted(json.loads(p.body)["role"] for p in overdue) == ["recipient", "sender"]
    [item] = stack.inbox()
    assert item["overdue_at"] and item["status"] == "03"


def test_retried_after_a_500_then_delivered(
    make_stack: Callable[..., Stack], receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.script = ["fail", "fail", "ok"]
    stack = make_stack()
    secret = stack.register(RECIPIENT, url, ["delivery.received"])
    msg = dispatched(stack.document())

    stack.land(msg)

    [job] = stack.jobs()
    eventually(delivered(stack, job.id), "delivery after two 500s")
    finished = stack.job(job.id)
    assert (finished.attempts, finished.last_status) == (3, 200)
    assert finished.last_error is not None and finished.last_error.startswith("HTTP 500")
    assert [p.mode for p in rx.received] == ["fail", "fail", "ok"]
    assert {p.headers["X-LienThong-Delivery"] for p in rx.received} == {job.id}
    assert [p.headers["X-LienThong-Attempt"] for p in rx.received] == ["1", "2", "3"]
    assert all(p.verifies(secret) for p in rx.received)
    assert [i["delivery_id"] for i in stack.inbox()] == [msg.delivery_id]


def test_a_hanging_receiver_times_out_and_is_retried(
    make_stack: Callable[..., Stack], receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.script = ["hang", "ok"]
    stack = make_stack()
    secret = stack.register(RECIPIENT, url, ["delivery.received"])

    stack.land(dispatched(stack.document()))

    [job] = stack.jobs()
    eventually(delivered(stack, job.id), "delivery after the timeout")
    finished = stack.job(job.id)
    assert finished.attempts == 2
    assert "timed out" in (finished.last_error or "")
    assert [p.mode for p in rx.received] == ["hang", "ok"]
    assert rx.received[1].verifies(secret)


def test_a_slow_answer_within_the_timeout_is_delivered_first_time(
    make_stack: Callable[..., Stack], receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.default = "slow"
    stack = make_stack()
    stack.register(RECIPIENT, url, ["delivery.received"])

    stack.land(dispatched(stack.document()))

    [job] = stack.jobs()
    eventually(delivered(stack, job.id), "the slow delivery")
    finished = stack.job(job.id)
    assert (finished.attempts, finished.last_error) == (1, None)
    assert rx.count() == 1


def test_a_permanent_4xx_is_dead_at_once_and_listed(
    make_stack: Callable[..., Stack], receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.default = "gone"
    stack = make_stack()
    stack.register(RECIPIENT, url, ["delivery.received"])
    msg = dispatched(stack.document())

    stack.land(msg)

    [job] = stack.jobs()
    eventually(lambda: stack.job(job.id).dead_at is not None, "the job is dead")
    dead = stack.job(job.id)
    assert (dead.attempts, dead.last_status) == (1, 410)
    assert dead.delivered_at is None
    assert "this endpoint is retired" in (dead.last_error or "")
    assert rx.count() == 1
    listed = stack.client.get("/v1/webhook/deliveries?state=dead", headers=stack.auth(RECIPIENT))
    [item] = listed.get_json()["items"]
    assert (item["id"], item["state"], item["last_status"]) == (job.id, "dead", 410)
    assert [i["delivery_id"] for i in stack.inbox()] == [msg.delivery_id]  # pull still works

    # The agency fixes its endpoint and asks for the push again.
    rx.default = "ok"
    retried = stack.client.post(
        f"/v1/webhook/deliveries/{job.id}/retry", headers=stack.auth(RECIPIENT)
    )
    assert retried.status_code == 200
    eventually(delivered(stack, job.id), "delivery after the manual retry")
    assert rx.count() == 2


def test_a_push_failing_past_the_maximum_age_is_dead(
    make_stack: Callable[..., Stack], receiver: tuple[Receiver, str]
) -> None:
    rx, url = receiver
    rx.default = "fail"
    stack = make_stack(WEBHOOK_MAX_AGE="0.3")
    stack.register(RECIPIENT, url, ["delivery.received"])
    msg = dispatched(stack.document())

    stack.land(msg)

    [job] = stack.jobs()
    eventually(lambda: stack.job(job.id).dead_at is not None, "the job is dead")
    dead = stack.job(job.id)
    assert dead.delivered_at is None
    assert dead.attempts >= 1 and dead.attempts == rx.count()
    assert dead.last_status == 500
    assert dead.last_error is not None and "gave up after" in dead.last_error
    assert [i["delivery_id"] for i in stack.inbox()] == [msg.delivery_id]
    count = rx.count()
    assert stack.worker.run_once() == 0 and rx.count() == count  # dead jobs are not sent


def test_the_embedded_shape_pushes_too(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    """SQLite and kombu's in-memory bus: no server at all, loopback allowed by default."""
    rx, url = receiver
    rx.script = ["fail", "ok"]
    runners: list[Runner] = []
    env = {
        "LIENTHONG_DATA_DIR": str(tmp_path / "embedded"),
        "LIENTHONG_BROKER_URL": "memory://",
        "LIENTHONG_WEBHOOK_BACKOFF_BASE": "0.005",
        "LIENTHONG_WEBHOOK_BACKOFF_CAP": "0.05",
    }
    try:
        stack = start_ingest(env, runners)
        secret = stack.register(RECIPIENT, url, ["delivery.received"])
        msg = dispatched(stack.document())

        stack.land(msg)

        [job] = stack.jobs()
        eventually(delivered(stack, job.id), "delivery on SQLite")
        assert stack.job(job.id).attempts == 2
        assert rx.received[-1].verifies(secret)
        assert [i["delivery_id"] for i in stack.inbox()] == [msg.delivery_id]
    finally:
        for runner in runners:
            runner.shutdown()

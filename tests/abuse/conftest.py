"""The abuse suite's stack: the three services as separate `lienthong serve` processes on
the embedded defaults (SQLite, the filesystem bus, a local object directory), with the
limits of ``testkit.hostile`` (ABUSE_ENV, RSS_LIMIT_MIB, budgets) set in one place.

Every test here runs against a stack of its module, and after every test: each service
process is still running, and no service process (nor any of its workers) went over
RSS_LIMIT_MIB while the test ran.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from testkit.hostile import ABUSE_ENV, RSS_LIMIT_MIB, RssWatch
from testkit.official_doc import official_letter
from testkit.stack import AgencyClient, Stack, metadata_to, wait_for

SENDER, RECIPIENT, OUTSIDER = "000.00.00.H41", "000.00.01.H41", "000.00.02.H41"
ORGANIZATION = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN"
OUTSIDER_ORGANIZATION = "SỞ TÀI CHÍNH TỈNH NGHỆ AN"
LEADER = "Nguyễn Văn An"
TOKEN = "abuse-suite-service-token-0123456789"
SERVICES = ("ingest", "signing", "routing")

# Counted before and after a refusal: a refused request leaves none of these behind.
STORED_ROWS = (
    ("ingest", "documents"),
    ("ingest", "document_versions"),
    ("ingest", "deliveries"),
    ("routing", "exchanges"),
    ("routing", "status_events"),
    ("signing", "documents"),
)


@dataclass
class AbuseStack:
    stack: Stack
    clients: dict[str, AgencyClient]
    watch: RssWatch
    numbers: Iterator[int] = field(default_factory=lambda: iter(range(1000, 10**6)))

    @property
    def sender(self) -> AgencyClient:
        return self.clients[SENDER]

    def url(self, service: str) -> str:
        return self.stack.url(service)

    def port(self, service: str) -> int:
        return self.stack.ports[service]

    @property
    def service_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}

    def next_number(self) -> str:
        return str(next(self.numbers))

    def stored(self) -> dict[str, int]:
        """What is kept: object files, the rows of STORED_ROWS, and files left in spool."""
        data = self.stack.data_dir
        counts = {
            "objects": sum(1 for p in (data / "objects").rglob("*") if p.is_file()),
            "spool": sum(1 for p in (data / "spool").rglob("*") if p.is_file()),
        }
        for service, table in STORED_ROWS:
            with sqlite3.connect(f"file:{data / (service + '.sqlite3')}?mode=ro", uri=True) as db:
                counts[f"{service}.{table}"] = int(
                    db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                )
        return counts

    def settled(self, timeout: float = 15.0) -> dict[str, int]:
        """``stored()`` once two reads 0.25 s apart agree and the spool is empty: what
        earlier documents set going on the bus (deliveries, arrivals, verdicts) has come
        to rest, and an earlier test's abandoned upload has been cleaned away."""
        deadline = time.monotonic() + timeout
        last = self.stored()
        while True:
            time.sleep(0.25)
            now = self.stored()
            if (now == last and now["spool"] == 0) or time.monotonic() > deadline:
                return now
            last = now

    def send_normal(self, *, subject: str | None = None) -> str:
        """A normal document from SENDER to RECIPIENT; its id once accepted."""
        meta = metadata_to(RECIPIENT, number=self.next_number(), subject=subject)
        sent = self.sender.send(official_letter(), meta)
        assert sent.status_code == 201, sent.text
        return str(sent.json()["id"])

    def arrives(self, doc_id: str, timeout: float = 30.0) -> dict[str, object]:
        """The document in RECIPIENT's inbox, waiting at most ``timeout`` seconds."""
        recipient = self.clients[RECIPIENT]
        found = wait_for(
            lambda: [i for i in recipient.inbox() if i["id"] == doc_id], timeout=timeout
        )
        return dict(found[0])

    def verdict(
        self, doc_id: str, timeout: float = 30.0, sender: str | None = None
    ) -> dict[str, object]:
        """The verify-on-arrival verdict ingest shows the sender (SENDER unless named)."""
        client = self.clients[sender] if sender is not None else self.sender

        def ready() -> dict[str, object] | None:
            found = client.document(doc_id).json().get("verification")
            return dict(found) if found else None

        return dict(wait_for(ready, timeout=timeout))


def _provision(stack: Stack, *, pki: bool) -> dict[str, AgencyClient]:
    stack.cli("migrate")
    stack.cli("agencies", "add", SENDER, "UBND tỉnh Nghệ An")
    stack.cli("agencies", "add", RECIPIENT, "Sở Nội vụ", "--parent", SENDER)
    stack.cli("agencies", "add", OUTSIDER, "Sở Tài chính", "--parent", SENDER)
    clients = {
        code: AgencyClient(
            stack.url("ingest"), code, stack.cli("keys", "create", code).stdout.strip()
        )
        for code in (SENDER, RECIPIENT, OUTSIDER)
    }
    if pki:
        from services.signing.images import draw_seal, draw_signature

        stack.cli("pki", "init")
        for code, name in ((SENDER, ORGANIZATION), (OUTSIDER, OUTSIDER_ORGANIZATION)):
            stack.cli("pki", "issue", "--agency", code, "--kind", "organization", "--name", name)
        stack.cli(
            "pki", "issue", "--agency", SENDER, "--kind", "personal", "--name", LEADER,
            "--organization", ORGANIZATION, "--title", "Chủ tịch",
        )  # fmt: skip
        seal, signature = stack.data_dir / "seal.png", stack.data_dir / "signature.png"
        seal.write_bytes(draw_seal(ORGANIZATION, SENDER))
        signature.write_bytes(draw_signature(LEADER))
        stack.cli(
            "pki", "images", "--agency", SENDER, "--seal", str(seal),
            "--person", LEADER, "--signature", str(signature),
        )  # fmt: skip
    return clients


def start_abuse_stack(data: Path, *, pki: bool) -> tuple[Stack, dict[str, AgencyClient]]:
    stack = Stack(data, {**ABUSE_ENV, "LIENTHONG_SERVICE_TOKEN": TOKEN})
    try:
        clients = _provision(stack, pki=pki)
        for service in SERVICES:
            stack.serve(service)
        stack.wait_healthy()
    except BaseException:
        stack.stop_all()
        raise
    return stack, clients


LIVE: list[AbuseStack] = []  # the stacks now running, for ``bounded``


@contextmanager
def running_abuse_stack(data: Path, *, pki: bool) -> Iterator[AbuseStack]:
    stack, clients = start_abuse_stack(data, pki=pki)
    pids = {name: proc.pid for name, proc in stack.processes.items()}
    try:
        with RssWatch(pids) as watch:
            live = AbuseStack(stack, clients, watch)
            LIVE.append(live)
            try:
                yield live
            finally:
                LIVE.remove(live)
    finally:
        for client in clients.values():
            client.http.close()
        stack.stop_all()


@pytest.fixture(scope="session")
def abuse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AbuseStack]:
    """The stack most tests share: agencies and keys, no signing material."""
    with running_abuse_stack(tmp_path_factory.mktemp("abuse"), pki=False) as live:
        yield live


@pytest.fixture(scope="module")
def signing_abuse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AbuseStack]:
    """A stack of its own for signing and verification (the PKI, certificates for SENDER
    and OUTSIDER, a leader's signature and a seal), so that work a bomb leaves running on
    a service without budgets cannot slow the other modules."""
    with running_abuse_stack(tmp_path_factory.mktemp("abuse-signing"), pki=True) as live:
        yield live


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """After each test: every running service is still up, and no service process (nor
    any of its workers) went over RSS_LIMIT_MIB while the test ran."""
    for live in LIVE:
        live.watch.reset()
    yield
    for live in LIVE:
        live.watch.sample()
        processes = live.stack.processes
        exited = {n: p.returncode for n, p in processes.items() if p.poll() is not None}
        assert not exited, f"services exited: {exited}\n" + "\n".join(
            live.stack.log_tail(n, 2000) for n in exited
        )
        over = live.watch.over(RSS_LIMIT_MIB)
        assert not over, f"peak RSS over {RSS_LIMIT_MIB} MiB (MiB by process): {over}"


def no_server_error(response: requests.Response) -> requests.Response:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    return response

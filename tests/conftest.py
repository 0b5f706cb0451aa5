"""Fixtures for the real services: RabbitMQ, PostgreSQL and a SeaweedFS S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.infra import RabbitVhost, ServiceMissing, in_ci, postgres_databases, rabbit_vhost
from testkit.seaweed import SeaweedS3, running_seaweed
from testkit.stack import CORPUS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A server or tool the test needs is missing (``ServiceMissing``): a skip with the
    reason here, and a failure when CI=true, where every test must run."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if call.excinfo is not None and call.excinfo.errisinstance(ServiceMissing) and not in_ci():
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {call.excinfo.value}")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the test corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def rabbit() -> Iterator[RabbitVhost]:
    with rabbit_vhost() as vhost:
        yield vhost


@pytest.fixture
def fresh_rabbit() -> Iterator[RabbitVhost]:
    with rabbit_vhost() as vhost:
        yield vhost


@pytest.fixture
def pg_urls() -> Iterator[dict[str, str]]:
    with postgres_databases() as urls:
        yield urls


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    with running_seaweed(tmp_path_factory.mktemp("s3")) as server:
        yield server

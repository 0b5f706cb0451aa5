"""Fixtures for the real services: RabbitMQ, PostgreSQL and a SeaweedFS S3 server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infra import RabbitVhost, postgres_databases, rabbit_vhost
from tests.support.seaweed import SeaweedS3, running_seaweed
from tests.support.stack import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.fail(f"the shared test corpus is missing at {CORPUS}")
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

"""The real services tests and benches run against: RabbitMQ (a fresh vhost per
run) and PostgreSQL (fresh databases per run). A missing server raises
``ServiceMissing``; the tests' fixtures turn that into a failure when CI=true and a
skip elsewhere, the benches into a clear error."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
PG_ADMIN_URL = os.environ.get("LT_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVICES = ("ingest", "signing", "routing")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class ServiceMissing(RuntimeError):
    """A server the tests or benches need is not there."""


def unavailable(what: str) -> NoReturn:
    raise ServiceMissing(f"{what} is not available")


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class RabbitVhost:
    name: str

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{self.name}"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def rabbit_vhost() -> Iterator[RabbitVhost]:
    if not port_open(RABBIT_HOST, RABBIT_PORT) or shutil.which("rabbitmqctl") is None:
        unavailable(f"RabbitMQ on {RABBIT_HOST}:{RABBIT_PORT} (with rabbitmqctl)")
    vhost = RabbitVhost(f"lt-test-{secrets.token_hex(4)}")
    _rabbitmqctl("add_vhost", vhost.name)
    _rabbitmqctl("set_permissions", "-p", vhost.name, "guest", ".*", ".*", ".*")
    try:
        yield vhost
    finally:
        _rabbitmqctl("delete_vhost", vhost.name)


@contextmanager
def postgres_databases(names: tuple[str, ...] = SERVICES) -> Iterator[dict[str, str]]:
    """Fresh databases, one per name: {name: SQLAlchemy URL}."""
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        unavailable(f"PostgreSQL at {PG_ADMIN_URL}")
    prefix = f"lt_test_{secrets.token_hex(4)}"
    urls = {}
    with admin:
        for name in names:
            db = f"{prefix}_{name}"
            admin.execute(f'CREATE DATABASE "{db}"')
            urls[name] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
        try:
            yield urls
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{prefix}_{name}" WITH (FORCE)')

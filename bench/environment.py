"""The stack the benchmarks run against, built fresh each run, and facts about the machine.

Everything is reused from ``testkit``: a fresh RabbitMQ vhost, fresh PostgreSQL
databases, a SeaweedFS S3 server, and the three services as separate processes.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from testkit.infra import (
    PG_ADMIN_URL,
    RABBIT_HOST,
    RABBIT_PORT,
    ServiceMissing,
    port_open,
    postgres_databases,
    rabbit_vhost,
)
from testkit.seaweed import running_seaweed
from testkit.stack import AgencyClient, Stack

SENDER = "000.00.00.H41"
RECIPIENTS = ("000.00.01.H41", "000.00.02.H41", "000.00.03.H41", "000.00.04.H41")
SERVICE_TOKEN = "bench-service-token-0123456789"
BUCKET = "lt-bench"


class Unavailable(RuntimeError):
    """A server the benchmarks need is missing."""


def check_infrastructure() -> None:
    """Fail with a clear message, naming every missing server, before touching anything."""
    problems = []
    if not port_open(RABBIT_HOST, RABBIT_PORT):
        problems.append(f"RabbitMQ is not listening on {RABBIT_HOST}:{RABBIT_PORT}")
    if shutil.which("rabbitmqctl") is None:
        problems.append("rabbitmqctl is not on PATH (needed to create a fresh vhost)")
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=5).close()
    except psycopg.Error as e:
        problems.append(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} "
            f"(set LT_TEST_PG_ADMIN): {str(e).strip()}"
        )
    if problems:
        raise Unavailable("; ".join(problems))


@dataclass
class BenchStack:
    stack: Stack
    clients: dict[str, AgencyClient]
    keys: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    sender: str = SENDER
    seaweed_pid: int = 0

    def pid(self, service: str) -> int:
        return self.stack.processes[service].pid


@contextlib.contextmanager
def bench_stack(
    data_dir: Path, max_upload_bytes: int, extra_env: dict[str, str] | None = None
) -> Iterator[BenchStack]:
    with contextlib.ExitStack() as outer:
        try:
            vhost = outer.enter_context(rabbit_vhost())
            pg = outer.enter_context(postgres_databases())
        except ServiceMissing as e:
            raise Unavailable(str(e)) from None
        seaweed = outer.enter_context(running_seaweed(data_dir))
        env = {
            "LIENTHONG_BROKER_URL": vhost.url,
            "LIENTHONG_STORAGE_URL": seaweed.url(BUCKET),
            "LIENTHONG_INGEST_DATABASE_URL": pg["ingest"],
            "LIENTHONG_SIGNING_DATABASE_URL": pg["signing"],
            "LIENTHONG_ROUTING_DATABASE_URL": pg["routing"],
            "LIENTHONG_SERVICE_TOKEN": SERVICE_TOKEN,
            "LIENTHONG_MAX_UPLOAD_BYTES": str(max_upload_bytes),
            **(extra_env or {}),
        }
        services_dir = data_dir / "stack"
        services_dir.mkdir(parents=True, exist_ok=True)
        stack = Stack(services_dir, env)
        outer.callback(stack.stop_all)
        stack.cli("migrate")
        stack.cli("agencies", "add", SENDER, "UBND tỉnh Nghệ An (bench)")
        for i, code in enumerate(RECIPIENTS, 1):
            stack.cli("agencies", "add", code, f"Sở {i} (bench)", "--parent", SENDER)
        keys = {
            code: stack.cli("keys", "create", code, "--label", "bench").stdout.strip()
            for code in (SENDER, *RECIPIENTS)
        }
        clients = {code: AgencyClient(stack.url("ingest"), code, key) for code, key in keys.items()}
        for service in ("ingest", "signing", "routing"):
            stack.serve(service)
        stack.wait_healthy()
        shown = {k: v for k, v in env.items() if k != "LIENTHONG_STORAGE_URL"}
        shown["LIENTHONG_STORAGE_URL"] = f"s3://…@{seaweed.endpoint}/{BUCKET} (SeaweedFS weed mini)"
        yield BenchStack(stack, clients, keys, shown, seaweed_pid=seaweed.pid or 0)


# --- machine facts ----------------------------------------------------------


def _run(*cmd: str) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    return (done.stdout or done.stderr).strip()


def _meminfo() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 1024 / 1024:.1f} GiB"
    return "unknown"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _postgres_version() -> str:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as e:
        return f"unknown ({e})"
    return str(row[0]) if row else "unknown"


def _rabbit_version() -> str:
    out = _run("rabbitmqctl", "version")
    return out.splitlines()[-1] if out else "unknown"


def _package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts() -> dict[str, str]:
    from testkit.seaweed import find_weed_binary

    root = Path(__file__).resolve().parents[1]
    weed = _run(str(find_weed_binary()), "version").splitlines()
    packages = (
        "flask",
        "waitress",
        "kombu",
        "SQLAlchemy",
        "psycopg",
        "minio",
        "pyHanko",
        "requests",
    )
    return {
        "nproc": _run("nproc"),
        "CPU": _cpu_model(),
        "memory": _meminfo(),
        "kernel": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "RabbitMQ": _rabbit_version(),
        "PostgreSQL": _postgres_version(),
        "SeaweedFS": weed[0] if weed else "unknown",
        "packages": ", ".join(f"{p} {_package(p)}" for p in packages),
        "git": _run("git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=12"),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }

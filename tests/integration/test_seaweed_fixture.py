"""Self-check for testkit/seaweed.py against a real ``weed mini``."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import psutil
import pytest

_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from testkit.seaweed import SeaweedS3, running_seaweed  # noqa: E402

PART_SIZE = 5 * 1024 * 1024
OBJECT_SIZE = 6 * 1024 * 1024


def _read(server: SeaweedS3, bucket: str, key: str) -> bytes:
    response = server.client().get_object(bucket, key)
    try:
        return response.read()
    finally:
        response.close()
        response.release_conn()


def _listening_ports(pid: int) -> set[int]:
    process = psutil.Process(pid)
    return {
        conn.laddr.port
        for conn in process.net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }


@pytest.mark.integration
def test_seaweed_roundtrip_survives_restart(tmp_path: Path) -> None:
    bucket = "lt-selfcheck"
    key = "docs/big.bin"
    payload = os.urandom(OBJECT_SIZE)

    with running_seaweed(tmp_path) as server:
        assert server.last_start_seconds is not None
        assert server.url(bucket) == (
            f"s3://{server.access_key}:{server.secret_key}@127.0.0.1:{server.port}/{bucket}"
        )
        pid = server.pid
        assert pid is not None
        assert _listening_ports(pid) <= set(server.ports.all())

        server.make_bucket(bucket)
        server.make_bucket(bucket)
        result = server.client().put_object(
            bucket, key, io.BytesIO(payload), length=-1, part_size=PART_SIZE
        )
        assert result.etag is not None
        assert result.etag.endswith("-2"), result.etag
        assert _read(server, bucket, key) == payload

        port_before = server.port
        server.restart()
        assert server.port == port_before
        assert server.pid != pid
        assert _read(server, bucket, key) == payload
        assert [b.name for b in server.client().list_buckets()] == [bucket]

    assert not server.is_running()
    assert (tmp_path / "seaweedfs" / "weed.log").stat().st_size > 0


@pytest.mark.integration
def test_two_servers_side_by_side(tmp_path: Path) -> None:
    with running_seaweed(tmp_path / "a") as first, running_seaweed(tmp_path / "b") as second:
        assert not set(first.ports.all()) & set(second.ports.all())
        first.make_bucket("only-in-first")
        assert [b.name for b in first.client().list_buckets()] == ["only-in-first"]
        assert second.client().list_buckets() == []

"""The embedded bus writes each message file atomically, so a consumer in another
process never takes a half-written (empty) file and loses the message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Producer, Queue

from services.common.bus import filesystem
from services.common.bus.connection import connect
from services.common.settings import BrokerSettings


def _connection(folder: Path) -> Connection:
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.01,
    }
    return connect(BrokerSettings(url="filesystem://", transport_options=options))


def _queue(name: str = "lt.unit.fs") -> Queue:
    # kombu keeps declared bindings per process: each test uses names of its own.
    return Queue(name, exchange=Exchange(name, type="direct"), routing_key="k")


def test_connect_uses_the_atomic_transport(tmp_path: Path) -> None:
    with _connection(tmp_path) as conn:
        assert isinstance(conn.transport, filesystem.Transport)


def test_a_message_file_appears_under_its_queue_name_only_when_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[list[str], bytes]] = []
    real_replace = os.replace

    def watching_replace(src: Any, dst: Any) -> None:
        visible = [n for n in os.listdir(tmp_path) if n.endswith(".lt.unit.fs.msg")]
        seen.append((visible, Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)
    with _connection(tmp_path) as conn:
        queue = _queue()
        queue(conn.default_channel).declare()
        Producer(conn.default_channel).publish(
            {"n": 1}, exchange=queue.exchange, routing_key="k", serializer="json"
        )
        message = queue(conn.default_channel).get(no_ack=True)
    assert message is not None and message.decode() == {"n": 1}
    [(visible, content)] = seen
    assert visible == []  # nothing a consumer could take before the rename
    assert json.loads(content)["body"]  # the whole message, before it becomes visible
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


WRITER = """
import sys
from kombu import Exchange, Producer
from services.common.bus.connection import connect
from services.common.settings import BrokerSettings
folder, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = {"data_folder_in": folder, "data_folder_out": folder,
           "control_folder": folder + "/control", "polling_interval": 0.01}
with connect(BrokerSettings(url="filesystem://", transport_options=options)) as conn:
    producer = Producer(conn.default_channel)
    for n in range(count):
        producer.publish({"n": n, "pad": "x" * 20000}, exchange=Exchange(name, type="direct"),
                         routing_key="k", serializer="json")
"""


def test_nothing_is_lost_while_another_process_writes(tmp_path: Path) -> None:
    """kombu's own transport loses about a third of these (an empty file is taken)."""
    count = 2000
    name = f"lt.unit.fs.{uuid.uuid4().hex}"
    received: list[int] = []
    with _connection(tmp_path) as conn:
        bound = _queue(name)(conn.default_channel)
        bound.declare()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name, str(count)],
            cwd=Path(__file__).resolve().parents[3],
        )
        try:
            while writer.poll() is None or len(received) < count:
                message = bound.get(no_ack=True)  # raises if it takes a half-written file
                if message is not None:
                    received.append(message.decode()["n"])
                elif writer.poll() is not None:
                    break
        finally:
            writer.wait(timeout=120)
    assert writer.returncode == 0
    assert sorted(received) == list(range(count))

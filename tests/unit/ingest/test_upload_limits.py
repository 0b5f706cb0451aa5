"""A real waitress server, spoken to over a raw socket: a body is refused from its headers
(no key, a bad key, a declared size over the limit, Transfer-Encoding with
Content-Length) before waitress reads it, and a chunked body is cut off at the limit.
What waitress spools to disk is measured by giving its temporary files a directory."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import waitress.buffers

from services.common.runtime import body_limit, http_server
from services.common.wiring import service_of
from tests.unit.ingest.test_api import (
    MAX_UPLOAD,
    RECIPIENT,
    SENDER,
    SMALL_PDF,
    Ingest,
    ingest,  # the fixture, shared with the API tests
    metadata,
)

__all__ = ["ingest"]

MiB = 1024 * 1024
SPOOL_BOUND = MiB  # what waitress may have written to disk for a refused request


class Server:
    def __init__(self, ingest: Ingest, spool: Path) -> None:
        self.spool = spool
        self.server = http_server(service_of(ingest.app, "127.0.0.1", 0), threads=2)
        self.port = int(self.server.effective_port)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def spooled(self) -> int:
        return sum(p.stat().st_size for p in self.spool.iterdir())

    def close(self) -> None:
        self.server.close()
        for channel in list(self.server._map.values()):
            channel.close()
        self.server.task_dispatcher.shutdown(timeout=5)
        self.thread.join(timeout=5)


@pytest.fixture
def server(ingest: Ingest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    spool = tmp_path / "waitress-spool"
    spool.mkdir()
    counter = iter(range(10**6))

    def newfile(_self: Any) -> io.BufferedRandom:
        return (spool / f"buffer-{next(counter)}").open("w+b")

    # waitress's own temporary files (bodies above inbuf_overflow), kept where we look.
    monkeypatch.setattr(waitress.buffers.TempfileBasedBuffer, "newfile", newfile)
    running = Server(ingest, spool)
    yield running
    running.close()


def exchange(port: int, head: str, body: Iterator[bytes]) -> tuple[int, bytes]:
    """Send ``head``, then ``body`` from a thread (as long as the server reads it), and
    read the answer: its status and its bytes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)

    def send_body() -> None:
        try:
            for chunk in body:
                sock.sendall(chunk)
        except OSError:
            pass  # the server answered and closed: the rest is never read

    sock.sendall(head.encode("latin-1"))
    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        sender.join(timeout=30)
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def zeros(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    block = b"\0" * chunk
    for _ in range(total // chunk):
        yield block


def chunked(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    block = b"\0" * chunk
    for _ in range(total // chunk):
        yield f"{chunk:x}\r\n".encode() + block + b"\r\n"
    yield b"0\r\n\r\n"


def post_head(length: int | None, *, key: str | None, extra: str = "") -> str:
    lines = ["POST /v1/documents HTTP/1.1", "Host: ingest", "Content-Type: multipart/form-data"]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n" + extra + "\r\n"


@pytest.mark.parametrize("size", [150 * MiB, "within the limit"])
@pytest.mark.parametrize("key", [None, "lt_not-a-key"])
def test_an_upload_without_a_valid_key_is_refused_before_its_body_is_read(
    ingest: Ingest, server: Server, key: str | None, size: int | str
) -> None:
    length = body_limit(ingest.app) if isinstance(size, str) else size
    assert length > 512 * 1024  # above what waitress keeps in memory: it would spool it
    status, answer = exchange(server.port, post_head(length, key=key), zeros(length))
    assert status == 401, answer
    assert b"application/problem+json" in answer
    assert server.spooled() < SPOOL_BOUND


def test_a_declared_size_over_the_limit_is_413_before_the_body(
    ingest: Ingest, server: Server
) -> None:
    size = 20 * MiB
    status, _ = exchange(server.port, post_head(size, key=ingest.keys[SENDER]), zeros(size))
    assert status == 413
    assert server.spooled() < SPOOL_BOUND


def test_a_chunked_body_is_cut_off_at_the_limit(ingest: Ingest, server: Server) -> None:
    head = post_head(None, key=ingest.keys[SENDER], extra="Transfer-Encoding: chunked\r\n")
    status, _ = exchange(server.port, head, chunked(20 * MiB))
    assert status == 413
    assert server.spooled() <= body_limit(ingest.app) + SPOOL_BOUND


def test_transfer_encoding_with_content_length_is_400(ingest: Ingest, server: Server) -> None:
    head = post_head(100, key=ingest.keys[SENDER], extra="Transfer-Encoding: chunked\r\n")
    status, answer = exchange(server.port, head, iter([b"64\r\n" + b"x" * 100 + b"\r\n0\r\n\r\n"]))
    assert status == 400, answer


def test_a_small_json_endpoint_refuses_a_large_body_from_its_headers(
    ingest: Ingest, server: Server
) -> None:
    size = 5 * MiB  # over the JSON limit
    head = (
        "PUT /v1/webhook HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {ingest.keys[SENDER]}\r\nContent-Length: {size}\r\n\r\n"
    )
    status, _ = exchange(server.port, head, zeros(size))
    assert status == 413
    assert server.spooled() < SPOOL_BOUND


def test_an_ordinary_upload_still_goes_through(ingest: Ingest, server: Server) -> None:
    boundary = "lienthong-boundary"
    pdf = SMALL_PDF.read_bytes()
    assert len(pdf) < MAX_UPLOAD
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            f"{json.dumps(metadata(RECIPIENT))}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: ingest\r\nConnection: close\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Authorization: Bearer {ingest.keys[SENDER]}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    status, answer = exchange(server.port, head, iter([body]))
    assert status == 201, answer
    assert b"X-Content-Type-Options: nosniff" in answer

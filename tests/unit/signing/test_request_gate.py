"""Signing's waitress server refuses a body from its headers: the API takes the service
token and at most a PDF to verify, the PKI small requests from anyone. Nothing of a
refused body is spooled (waitress's temporary files are counted in a test directory)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import waitress.buffers

from services.common.runtime import body_limit, http_server
from services.common.wiring import service_of
from services.signing.app import MAX_BODY_BYTES, PKI_MAX_BODY
from tests.unit.ingest.test_upload_limits import exchange, zeros
from tests.unit.signing.test_pdf_budgets import Signing, budgeted

__all__ = ["budgeted"]

MiB = 1024 * 1024


@pytest.fixture
def port(budgeted: Signing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    spool = tmp_path / "waitress-spool"
    spool.mkdir()
    counter = iter(range(10**6))

    def newfile(_self: Any) -> io.BufferedRandom:
        return (spool / f"buffer-{next(counter)}").open("w+b")

    monkeypatch.setattr(waitress.buffers.TempfileBasedBuffer, "newfile", newfile)
    app = budgeted.client.application
    server = http_server(service_of(app, "127.0.0.1", 0), threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield int(server.effective_port)
    assert sum(p.stat().st_size for p in spool.iterdir()) < MiB  # nothing was spooled
    server.close()
    for channel in list(server._map.values()):
        channel.close()
    server.task_dispatcher.shutdown(timeout=5)
    thread.join(timeout=5)


def _post(path: str, length: int, token: str | None = None) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: signing", "Content-Type: application/pdf"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines.append(f"Content-Length: {length}")
    return "\r\n".join(lines) + "\r\n\r\n"


def test_the_limit_is_a_pdf_to_verify_not_the_default(budgeted: Signing) -> None:
    assert body_limit(budgeted.client.application) == MAX_BODY_BYTES


def test_a_body_without_the_service_token_is_refused_unread(port: int) -> None:
    status, _ = exchange(port, _post("/v1/verify", 150 * MiB), zeros(150 * MiB))
    assert status == 401


def test_a_body_over_the_limit_is_refused_unread(budgeted: Signing, port: int) -> None:
    token = budgeted.ctx.settings.common.service_token
    size = MAX_BODY_BYTES + MiB
    status, _ = exchange(port, _post("/v1/verify", size, token), zeros(size))
    assert status == 413


def test_the_pki_takes_only_small_bodies_from_anyone(port: int) -> None:
    status, _ = exchange(port, _post("/pki/ocsp", 150 * MiB), zeros(150 * MiB))
    assert status == 413
    assert MiB > PKI_MAX_BODY

"""Small measuring tools: percentiles, an RSS sampler and a streamed multipart body."""

from __future__ import annotations

import io
import itertools
import json
import math
import secrets
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import psutil


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            max=max(values) if values else math.nan,
            mean=statistics.fmean(values) if values else math.nan,
        )


def tree_rss(process: psutil.Process, children: bool = True) -> int:
    """RSS of a process plus (unless told not to) all its children, in bytes."""
    total = 0
    tree = (process, *process.children(recursive=True)) if children else (process,)
    for proc in tree:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class RssSampler:
    """Samples the RSS of a process tree every ``interval`` seconds on a thread."""

    def __init__(self, pid: int, interval: float = 0.05, *, children: bool = True) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.children = children
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def _run(self) -> None:
        next_at = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), tree_rss(self.process, self.children)))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def between(self, start: float, end: float) -> list[int]:
        return [rss for at, rss in self.samples if start <= at <= end]

    def intervals(self) -> list[float]:
        times = [at for at, _rss in self.samples]
        return [b - a for a, b in itertools.pairwise(times)]


class StreamingMultipart:
    """A ``multipart/form-data`` body read from a file as it is sent.

    requests streams any iterable body that has ``read``; ``__len__`` makes it send a
    Content-Length instead of chunked encoding, like a browser or curl would.
    """

    def __init__(
        self,
        fields: dict[str, Any],
        file_field: str,
        path: Path,
        filename: str = "doc.pdf",
        content_type: str = "application/pdf",
    ) -> None:
        self.boundary = f"lt-bench-{secrets.token_hex(16)}"
        head = b""
        for name, value in fields.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            head += (
                (
                    f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                ).encode()
                + text.encode()
                + b"\r\n"
            )
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._file: BinaryIO = path.open("rb")
        self._parts: list[BinaryIO] = [io.BytesIO(head), self._file, io.BytesIO(tail)]
        self._length = len(head) + path.stat().st_size + len(tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(part.read() for part in self._parts)
        out = b""
        while self._parts and len(out) < size:
            chunk = self._parts[0].read(size - len(out))
            if chunk:
                out += chunk
            else:
                self._parts.pop(0)
        return out

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(1024 * 1024):
            yield chunk

    def close(self) -> None:
        self._file.close()

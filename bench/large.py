"""Measurement 3: the ingest process's memory while it ingests a large PDF."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field

from bench.environment import BenchStack
from bench.measure import RssSampler, StreamingMultipart
from bench.pdfs import PaddedPdf
from bench.scenarios import error_text, sender_client
from testkit.stack import metadata_to


@dataclass(frozen=True)
class RssWindow:
    """One process (tree) around the upload: bytes, and seconds since the POST began."""

    baseline: int
    peak: int
    peak_at: float
    after: int
    samples: int
    timeline: list[tuple[float, int]]


def _window(
    sampler: RssSampler, began: float, ended: float, settle: float, step: float = 0.5
) -> RssWindow:
    baseline = sampler.between(began - settle, began)
    during = [(at, rss) for at, rss in sampler.samples if began <= at <= ended]
    after = sampler.between(ended + settle / 2, ended + settle)
    peak_at, peak = max(during, key=lambda s: s[1], default=(began, 0))
    timeline: dict[int, int] = {}
    for at, rss in sampler.samples:
        if began - settle <= at <= ended + settle:
            bucket = int((at - began) // step)
            timeline[bucket] = max(timeline.get(bucket, 0), rss)
    return RssWindow(
        baseline=max(baseline, default=0),
        peak=peak,
        peak_at=peak_at - began,
        after=max(after, default=0),
        samples=len(during),
        timeline=[(b * step, rss) for b, rss in sorted(timeline.items())],
    )


@dataclass
class LargeUpload:
    size: int
    sample_interval: float
    sha256_sent: str
    status: int = 0
    error: str = ""
    upload_seconds: float = 0.0
    ingest: RssWindow | None = None
    seaweed: RssWindow | None = None
    client: RssWindow | None = None
    processes: int = 1
    sample_gaps: list[float] = field(default_factory=list)
    download_seconds: float = 0.0
    sha256_reported: str = ""
    sha256_downloaded: str = ""
    size_downloaded: int = 0

    @property
    def verified(self) -> bool:
        return self.sha256_sent == self.sha256_reported == self.sha256_downloaded != ""


def large_upload(
    bench: BenchStack,
    pdf: PaddedPdf,
    recipient: str,
    sample_interval: float = 0.05,
    settle_seconds: float = 2.0,
) -> LargeUpload:
    """Stream a big PDF from disk while sampling the RSS of ingest (with its children),
    of the SeaweedFS server and of this client process (without its children)."""
    result = LargeUpload(pdf.size, sample_interval, sha256_sent=pdf.sha256)
    sender = sender_client(bench)
    body = StreamingMultipart(
        {"metadata": metadata_to(recipient, number="BIG-1")}, "file", pdf.path
    )
    with (
        RssSampler(bench.pid("ingest"), sample_interval) as ingest,
        RssSampler(bench.seaweed_pid, sample_interval) as seaweed,
        RssSampler(os.getpid(), sample_interval, children=False) as own,
    ):
        time.sleep(settle_seconds)
        began = time.perf_counter()
        try:
            response = sender.http.post(
                f"{sender.base_url}/v1/documents",
                data=body,
                headers={"Content-Type": body.content_type},
                timeout=900,
            )
        finally:
            body.close()
        ended = time.perf_counter()
        time.sleep(settle_seconds)
    result.upload_seconds = ended - began
    result.status = response.status_code
    result.ingest = _window(ingest, began, ended, settle_seconds)
    result.seaweed = _window(seaweed, began, ended, settle_seconds)
    result.client = _window(own, began, ended, settle_seconds)
    result.sample_gaps = ingest.intervals()
    result.processes = 1 + len(ingest.process.children(recursive=True))
    if response.status_code != 201:
        result.error = error_text(response)
        return result
    accepted = response.json()
    result.sha256_reported = accepted["sha256"]
    digest = hashlib.sha256()
    began = time.perf_counter()
    with sender.http.get(
        f"{sender.base_url}/v1/documents/{accepted['id']}/content", stream=True, timeout=900
    ) as download:
        download.raise_for_status()
        for chunk in download.iter_content(1024 * 1024):
            digest.update(chunk)
            result.size_downloaded += len(chunk)
    result.download_seconds = time.perf_counter() - began
    result.sha256_downloaded = digest.hexdigest()
    return result

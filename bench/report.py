"""Renders results as bench/RESULTS.md and as a short summary for the terminal."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from bench import attack, edxml, eshare, routing_report, signing_report, web
from bench.eshare import EShareResults
from bench.eshare_data import COUNTRY
from bench.large import LargeUpload, RssWindow
from bench.measure import Summary
from bench.routing_results import RoutingResults
from bench.scenarios import Latency, Throughput
from bench.signing import SigningResults

MIB = 1024 * 1024
PARTS = (
    "delivery",
    "signing",
    "routing",
    "attack",
    "edxml",
    "web",
    "eshare",
    "eshare_country",
)  # what `--only` chooses from; one block of the file each
_PART = re.compile(r"<!-- part (\w+) \((.*?)\) -->\n.*?<!-- /part \1 -->\n", re.S)


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


@dataclass
class Results:
    started: str
    finished: str = ""
    duration_seconds: float = 0.0
    facts: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    throughput: list[Throughput] = field(default_factory=list)
    latency: Latency | None = None
    large: LargeUpload | None = None
    signing: SigningResults | None = None
    routing: RoutingResults | None = None
    attack: attack.AttackResults | None = None
    edxml: edxml.EdxmlResults | None = None
    web: web.WebResults | None = None
    eshare: EShareResults | None = None
    eshare_country: EShareResults | None = None
    parts: tuple[str, ...] = PARTS
    command: str = ".venv/bin/python -m bench.run"
    failures: list[str] = field(default_factory=list)


def _throughput(runs: list[Throughput]) -> list[str]:
    size = mib(runs[0].pdf_size)
    lines = [
        f"## 1. Documents accepted per second (POST /v1/documents, {size} PDF, 1 recipient)",
        "",
        "Each client thread has its own HTTP session and POSTs the next document as soon as "
        "the previous one is answered (closed loop). Every document is a distinct PDF (the "
        "store is content-addressed, so identical bytes would be stored only once). "
        "*docs/s* = 201 answers ÷ wall time from the start of the first POST to the last "
        "answer. Latency is the client-side time of one POST (upload of the multipart body, "
        "validation, spooling, the S3 put, the database commit, the 201). *Drain* is the time "
        "from the last 201 until every accepted document of the run was listed in the "
        "recipient's inbox (checked every 100 ms), i.e. how far the asynchronous pipeline "
        "(outbox → RabbitMQ → routing → RabbitMQ → ingest) lags behind acceptance.",
        "",
        "| client threads | samples (201) | errors | wall s | docs/s | MiB/s | p50 ms | "
        "p99 ms | mean ms | max ms | delivered | drain s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        s = r.latency
        drain = f"{r.drain_seconds:.2f}" if r.drain_seconds is not None else "not all"
        lines.append(
            f"| {r.threads} | {r.ok} | {len(r.errors)} | {r.wall_seconds:.2f} | "
            f"{r.docs_per_second:.1f} | {r.docs_per_second * r.pdf_size / MIB:.1f} | "
            f"{ms(s.p50)} | {ms(s.p99)} | {ms(s.mean)} | {ms(s.max)} | "
            f"{r.delivered}/{r.ok} | {drain} |"
        )
    for r in runs:
        for error in r.errors[:3]:
            lines.append(f"\n- {r.threads} thread(s), error: `{error}`")
    return [*lines, ""]


def _summary_row(name: str, s: Summary) -> str:
    return (
        f"| {name} | {s.n} | {ms(s.p50)} | {ms(s.p95)} | {ms(s.p99)} | {ms(s.max)} | {ms(s.mean)} |"
    )


def _latency(r: Latency) -> list[str]:
    polls = Summary.of(r.poll_round_trips)
    lines = [
        f"## 2. End-to-end delivery latency on RabbitMQ ({r.count} documents at {r.rate:g}/s)",
        "",
        f"One sender thread POSTs a small PDF (a real corpus PDF plus a tiny incremental "
        f"update, {r.pdf_size} bytes, distinct per document) every {1 / r.rate * 1000:.0f} ms "
        f"to one recipient; sending took {r.send_seconds:.1f} s. A separate thread polls the "
        f"recipient's `GET /v1/inbox?limit=100` every {r.poll_interval * 1000:.0f} ms "
        f"({polls.n} polls) and notes when each document is first listed.",
        "",
        "- **client-observed**: from the client receiving the 201 to the client receiving the "
        "first inbox answer that lists the document. It over-states the true latency by up to "
        "one poll interval plus one poll round trip (see the poll row).",
        "- **server-side**: the inbox's `received_at` (when ingest marked the delivery arrived) "
        "minus the document's `received_at` in the 201 body (set just before the commit), "
        "both from ingest's clock: no polling error, but it starts slightly before the 201.",
        "",
        "| measure | samples | p50 ms | p95 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _summary_row("client-observed: 201 → listed in inbox", Summary.of(r.client)),
        _summary_row("server-side: received_at → arrived_at", Summary.of(r.server)),
        _summary_row("inbox poll round trip", polls),
        _summary_row("POST latency of these small PDFs", Summary.of(r.post_latencies)),
        "",
        f"Errors: {len(r.errors)}; accepted but never listed within the wait: {r.missing}.",
        "",
    ]
    lines.extend(f"- error: `{e}`" for e in r.errors[:3])
    return lines


def _rss_row(name: str, w: RssWindow | None) -> str:
    if w is None:
        return f"| {name} | n/a | n/a | n/a | n/a | 0 |"
    return (
        f"| {name} | {mib(w.baseline)} | {mib(w.peak)} at {w.peak_at:.1f} s | "
        f"{(w.peak - w.baseline) / MIB:+.1f} MiB | {mib(w.after)} | {w.samples} |"
    )


def _large(r: LargeUpload) -> list[str]:
    gaps = Summary.of(r.sample_gaps)
    verdict = "**match**" if r.verified else "**MISMATCH**"
    rate = r.size / MIB / r.upload_seconds if r.upload_seconds else 0.0
    lines = [
        f"## 3. Memory of the ingest process while ingesting a {mib(r.size)} PDF",
        "",
        "The PDF is written to disk in 1 MiB chunks and POSTed as a multipart body streamed "
        "from the file (with a Content-Length, no chunked encoding), so the client never holds "
        "it in memory. RSS is sampled every "
        f"{r.sample_interval * 1000:.0f} ms with psutil (gaps between ingest samples: p50 "
        f"{ms(gaps.p50)} ms, max {ms(gaps.max)} ms): the `lienthong serve ingest` process "
        f"plus its children ({r.processes} process(es) in its tree), and for context the "
        "SeaweedFS server and the benchmark client itself (without its children). *Baseline* "
        "is the highest sample in the 2 s before the POST, *peak* the highest between the "
        "start of the POST and the 201 (with its time since the POST began), *after* the "
        "highest in the second that ends 2 s after the 201. Upload time runs from the start "
        "of the POST to the 201, so it includes ingest spooling, validating and hashing the "
        "file and putting it into SeaweedFS.",
        "",
        f"Upload (POST → 201, HTTP {r.status}): **{r.upload_seconds:.2f} s** ({rate:.1f} MiB/s).",
        "",
        "| process | baseline RSS | peak RSS during upload | peak − baseline | after | "
        "samples during upload |",
        "|---|---:|---:|---:|---:|---:|",
        _rss_row("**ingest** (`lienthong serve ingest`)", r.ingest),
        _rss_row("SeaweedFS (`weed mini`), for context", r.seaweed),
        _rss_row("benchmark client, for context", r.client),
        "",
    ]
    if r.ingest:
        points = ", ".join(f"{at:+.1f} s {rss / MIB:.0f}" for at, rss in r.ingest.timeline)
        lines += [f"Ingest RSS in MiB, highest per 0.5 s since the POST began: {points}.", ""]
    lines += [
        f"Stored bytes: downloaded `GET /v1/documents/{{id}}/content` in "
        f"{r.download_seconds:.2f} s; SHA-256 of the file sent, the one in the 201 body and "
        f"the one of the downloaded bytes: {verdict} (`{r.sha256_sent[:16]}…`, "
        f"{r.size_downloaded} of {r.size} bytes back).",
        "",
    ]
    if r.error:
        lines.append(f"Error: `{r.error}`\n")
    return lines


def _delivery(res: Results) -> list[str]:
    cores = res.facts.get("nproc", "?")
    lines = [
        f"**All of it shares one {cores}-core machine**: the benchmark client (this Python "
        "process and its threads), the three service processes, RabbitMQ, PostgreSQL and "
        "SeaweedFS compete for the same cores, so the numbers are what this box does with "
        "everything on it, not what a service does on its own hardware.",
        "",
        "## Configuration",
        "",
        "Fresh RabbitMQ vhost, fresh PostgreSQL databases (one per service) and a fresh "
        "SeaweedFS S3 server (`weed mini`) per run; `lienthong migrate`, agencies registered "
        "with `lienthong agencies add`, keys from `lienthong keys create`; then `lienthong "
        "serve ingest|signing|routing` as three separate processes (waitress, 8 HTTP threads "
        "each). Every scenario uses its own recipient agency.",
        "",
        "| setting | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in res.config.items()),
        *(f"| `{k}` | `{v}` |" for k, v in res.env.items()),
        "",
    ]
    if res.throughput:
        lines += _throughput(res.throughput)
    if res.latency:
        lines += _latency(res.latency)
    if res.large:
        lines += _large(res.large)
    return lines


def markdown(res: Results, previous: str | None = None) -> str:
    """The whole file. A part not run this time (``--only``) is carried over verbatim
    from ``previous``, the file as it was, when that holds it."""
    kept = {m[1]: (m[2], m[0]) for m in _PART.finditer(previous or "") if m[1] not in res.parts}
    notes = [
        f"The {name} sections are carried over from an earlier run ({stamp}); the machine "
        "facts below are this run's."
        for name, (stamp, _) in kept.items()
    ]
    lines = [
        "# Liên Thông benchmarks",
        "",
        f"Run {res.started}, finished {res.finished} ({res.duration_seconds:.0f} s), by "
        f"`{res.command}` (`make bench` runs every part), measuring "
        f"{' and '.join(res.parts)}. This file is rewritten every run; "
        "`--only delivery|signing|routing|attack|edxml|web|eshare|eshare_country` measures one "
        "part and "
        "keeps the others' sections.",
        "",
        *(f"{note}\n" for note in notes),
        "## Machine",
        "",
        "| fact | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in res.facts.items()),
        "",
    ]
    stamp = f"run {res.started}, git {res.facts.get('git', '?')}"
    for name in PARTS:
        if name in res.parts:
            body = {
                "delivery": _delivery,
                "signing": _signing,
                "routing": _routing,
                "attack": _attack,
                "edxml": _edxml,
                "web": _web,
                "eshare": _eshare,
                "eshare_country": _eshare_country,
            }[name](res)
            lines += [f"<!-- part {name} ({stamp}) -->", *body, f"<!-- /part {name} -->", ""]
        elif name in kept:
            lines += [*kept[name][1].rstrip("\n").split("\n"), ""]
    if res.failures:
        lines += ["## Failures", "", *(f"- {f}" for f in res.failures), ""]
    return "\n".join(lines)


def _signing(res: Results) -> list[str]:
    if res.signing is None:
        return [f"## 4. {signing_report.TITLE}", "", "Not measured: see Failures.", ""]
    return signing_report.section(res.signing)


def _routing(res: Results) -> list[str]:
    if res.routing is None:
        return [f"## 5. {routing_report.TITLE}", "", "Not measured: see Failures.", ""]
    return routing_report.section(res.routing)


def _attack(res: Results) -> list[str]:
    if res.attack is None:
        return [f"## 6. {attack.TITLE}", "", "Not measured: see Failures.", ""]
    return attack.section(res.attack)


def _eshare(res: Results) -> list[str]:
    if res.eshare is None:
        return [f"## 9. {eshare.TITLE}", "", "Not measured: see Failures.", ""]
    return eshare.section(res.eshare)


def _eshare_country(res: Results) -> list[str]:
    if res.eshare_country is None:
        return [eshare.heading(COUNTRY), "", "Not measured: see Failures.", ""]
    return eshare.section(res.eshare_country)


def _edxml(res: Results) -> list[str]:
    if res.edxml is None:
        return [f"## 7. {edxml.TITLE}", "", "Not measured: see Failures.", ""]
    return edxml.section(res.edxml)


def _web(res: Results) -> list[str]:
    if res.web is None:
        return [f"## 8. {web.TITLE}", "", "Not measured: see Failures.", ""]
    return web.section(res.web)


def terminal_summary(res: Results) -> str:
    out = [
        f"Liên Thông bench ({res.facts.get('nproc', '?')} cores shared by client and "
        f"services, {res.duration_seconds:.0f} s)"
    ]
    for r in res.throughput:
        s = r.latency
        out.append(
            f"  accept {mib(r.pdf_size)} PDFs, {r.threads} thread(s): "
            f"{r.docs_per_second:.1f} docs/s "
            f"(n={r.ok}, errors {len(r.errors)}), POST p50 {ms(s.p50)} ms, "
            f"p99 {ms(s.p99)} ms"
        )
    if res.latency:
        c = Summary.of(res.latency.client)
        out.append(
            f"  delivery 201→inbox (n={c.n}): p50 {ms(c.p50)} ms, p95 {ms(c.p95)} ms, "
            f"p99 {ms(c.p99)} ms, max {ms(c.max)} ms"
        )
    if res.large:
        g = res.large
        rss = f"{mib(g.ingest.baseline)} → peak {mib(g.ingest.peak)}" if g.ingest else "n/a"
        out.append(
            f"  {mib(g.size)} upload: {g.upload_seconds:.1f} s, ingest RSS {rss}, SHA-256 "
            f"{'verified' if g.verified else 'NOT verified'}"
        )
    if res.signing:
        out.extend(signing_report.summary(res.signing))
    if res.routing:
        out.extend(routing_report.summary(res.routing))
    if res.attack:
        out.extend(attack.summary(res.attack))
    if res.eshare:
        out.extend(eshare.summary(res.eshare))
    if res.eshare_country:
        out.extend(eshare.summary(res.eshare_country))
    if res.edxml:
        out.append(
            f"  edXML CPU vs multipart JSON: {res.edxml.ratio:.2f}× "
            f"({res.edxml.wrapped_ratio:.2f}× with 76-character base64 lines)"
        )
    out.extend(f"  FAILED: {f}" for f in res.failures)
    return "\n".join(out)

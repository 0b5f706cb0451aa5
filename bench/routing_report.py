"""The routing section of bench/RESULTS.md and its lines in the terminal summary."""

from __future__ import annotations

import math

from bench.measure import Summary
from bench.routing_raw import RawRun
from bench.routing_results import Drain, Paced, RoutingResults, Saturation

TITLE = "Routing: raw broker vs. our deliveries, latency under load, scale-out (issue 4)"
TARGET_RATIO = 0.5


def _ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def _latency_row(name: str, values: list[float]) -> str:
    s = Summary.of(values)
    return (
        f"| {name} | {s.n} | {_ms(s.p50)} | {_ms(s.p95)} | {_ms(s.p99)} | {_ms(s.max)} | "
        f"{_ms(s.mean)} |"
    )


def _raw(runs: list[RawRun], envelope: int, cpu: dict[int, float]) -> list[str]:
    lines = [
        "### (a) Plain kombu on the same broker",
        "",
        f"A {envelope}-byte message (a real `document.received` envelope with 3 recipients) "
        "published persistent with publisher confirms (kombu `confirm_publish`: each publish "
        "waits for the broker's confirm; our outbox relay instead publishes a batch of rows "
        "and waits once for their confirms) to a durable quorum "
        "queue; one consumer on its own connection, prefetch 50, acknowledges each one. "
        "*msg/s* = messages consumed ÷ (first publish → last ack).",
        "",
        "*Machine CPU per message* is the busy time of all cores during the run ÷ messages "
        "(broker, client and whatever else the box did).",
        "",
        "| publishers | messages | confirmed publishes/s | **msg/s published+consumed** | "
        "machine CPU ms per message |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        each = cpu.get(r.publishers, math.nan)
        lines.append(
            f"| {r.publishers} | {r.consumed}/{r.messages} | {r.published_per_second:.0f} | "
            f"**{r.messages_per_second:.0f}** | {each:.2f} |"
        )
    return [*lines, ""]


def _saturation(s: Saturation, res: RoutingResults) -> list[str]:
    base = next((r for r in res.raw if r.publishers == 1), None)
    per_delivery = {k: v / s.delivered for k, v in s.messages.items()} if s.delivered else {}
    total_msgs = sum(s.messages.values())
    lines = [
        "### (b) Our deliveries per second at saturation",
        "",
        f"{s.threads} client threads POST {s.docs} distinct small PDFs ({res.pdf_bytes} "
        f"bytes) as fast as they are answered, each to {s.recipients} recipients, with "
        "ingest, signing (verify on arrival) and one routing process running. A delivery "
        "counts when ingest's connector has put it in the recipient's inbox "
        "(`deliveries.arrived_at`). *Deliveries/s* = deliveries ÷ (first POST → last "
        "arrival). The stack is idle (every queue and outbox empty) before each scenario.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| documents accepted | {s.accepted} ({len(s.errors)} errors) in "
        f"{s.send_seconds:.1f} s = {s.accepted_per_second:.1f}/s |",
        f"| deliveries in inboxes | {s.delivered} of {s.accepted * s.recipients} |",
        f"| first POST → last arrival | {s.end_to_end_seconds:.1f} s |",
        f"| **deliveries/s (b)** | **{s.deliveries_per_second:.1f}** |",
        f"| first POST → all follow-up work done (statuses 01, verdicts; every queue and "
        f"outbox empty) | {s.settled_seconds:.1f} s = {s.settled_per_second:.1f} deliveries/s |",
        f"| raw kombu msg/s, 1 publisher (a) | {base.messages_per_second:.0f} |"
        if base
        else "| raw kombu msg/s (a) | n/a |",
        f"| **(b) ÷ (a)**, the uploads included | **{res.saturation_ratio:.3f}** |",
        f"| bus messages written to outboxes | {total_msgs} "
        f"({', '.join(f'{k} {v}' for k, v in s.messages.items())}), "
        f"{total_msgs / s.delivered:.2f} per delivery |"
        if s.delivered
        else "| bus messages | n/a |",
        "",
        "Accepted → in the inbox under this load:",
        "",
        "| measure | samples | p50 ms | p95 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        _latency_row("accepted → in the inbox, at saturation", s.latencies),
        "",
        f"Where the CPU went during the {s.cpu_window:.1f} s window (all cores busy "
        f"{s.machine_busy * 100:.0f}% of the time; RabbitMQ and PostgreSQL are shared by "
        "the whole machine, so other work on them counts too):",
        "",
        "| process | CPU s | share | CPU ms per delivery |",
        "|---|---:|---:|---:|",
    ]
    total_cpu = sum(c.seconds for c in s.cpu) or 1.0
    if s.delivered:
        lines[-4:-4] = [
            f"The processes below used {total_cpu * 1000 / s.delivered:.1f} ms of CPU per "
            f"delivery ({s.busy_core_seconds * 1000 / s.delivered:.1f} ms of all cores' busy "
            "time per "
            "delivery, other work on the box included): with the cores saturated, that "
            "cost, not the broker, bounds the rate.",
            "",
        ]
    for c in sorted(s.cpu, key=lambda c: -c.seconds):
        each = c.seconds * 1000 / s.delivered if s.delivered else math.nan
        lines.append(
            f"| {c.name} | {c.seconds:.1f} | {c.seconds / total_cpu * 100:.0f}% | {each:.1f} |"
        )
    lines += [
        "",
        "Sessions waiting on a row lock, sampled every 100 ms (mean): "
        + ", ".join(f"{k} {v:.2f}" for k, v in s.lock_waits.items())
        + ".",
        "",
    ]
    if per_delivery:
        lines.append(
            "Per delivery the bus carries "
            + ", ".join(f"{v:.2f} messages from {k}" for k, v in per_delivery.items())
            + "."
        )
        lines.append("")
    for error in s.errors[:3]:
        lines.append(f"- error: `{error}`")
    return lines


def _paced(runs: list[Paced]) -> list[str]:
    lines = [
        "### (c) Latency at a steady offered load",
        "",
        "Open loop: document *i* is due at start + *i*/rate whatever happened to the "
        "others (a pool of client threads sleeps until each slot), each to one recipient. "
        "*Accepted → inbox* is the delivery's `arrived_at` minus the document's "
        "`received_at` (both ingest's clock). *Intended → inbox* starts at the slot the "
        "POST was due, so it also counts the time a request waited for a free client "
        "or for ingest to answer: when the offered rate is above what the box sustains, it "
        "grows with the backlog.",
        "",
        "| offered docs/s | scheduled | accepted | achieved docs/s | late starts | errors | "
        "delivered | accepted → inbox p50 / p99 ms | intended → inbox p50 / p99 ms | "
        "POST p50 / p99 ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        a, i, p = (
            Summary.of(r.accepted_to_inbox),
            Summary.of(r.intended_to_inbox),
            Summary.of(r.post_latencies),
        )
        lines.append(
            f"| {r.rate:g} | {r.scheduled} | {r.accepted} | {r.achieved_rate:.1f} | "
            f"{r.late_starts} | {len(r.errors)} | {r.delivered} | "
            f"**{_ms(a.p50)} / {_ms(a.p99)}** | {_ms(i.p50)} / {_ms(i.p99)} | "
            f"{_ms(p.p50)} / {_ms(p.p99)} |"
        )
    lines.append("")
    for r in runs:
        for error in r.errors[:2]:
            lines.append(f"- {r.rate:g}/s error: `{error}`")
    return [*lines, ""]


def _target(res: RoutingResults) -> list[str]:
    ratio = res.ratio
    met = "n/a" if math.isnan(ratio) else ("**yes**" if ratio >= TARGET_RATIO else "**NO**")
    one = next((d for d in res.drains if d.processes == 1), None)
    rate = f"{one.per_second_routed:.1f}" if one else "n/a"
    return [
        "### The target: accepted → in the inbox, against raw kombu",
        "",
        "The target compares our deliveries from *document accepted* to *in the recipient's "
        "inbox* with raw kombu. That is (d) below: documents already accepted (and "
        "verified) wait for routing, one routing process starts, and the rate runs from "
        "routing's first exchange to the last delivery listed in an inbox. (b) also counts "
        "the uploads, which on this 2-core box compete with the pipeline for the same "
        "cores; it is shown for what a whole box sustains, not as the target.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| raw kombu msg/s, 1 publisher (a) | {res.raw_rate:.0f} |",
        f"| accepted → inbox, deliveries/s, 1 routing process (d) | {rate} |",
        f"| **(d) ÷ (a)** (target ≥ {TARGET_RATIO}) | **{ratio:.3f}** — met: {met} |",
        f"| upload → inbox at saturation, deliveries/s (b) | "
        f"{res.saturation.deliveries_per_second:.1f} |"
        if res.saturation
        else "| (b) | n/a |",
        f"| (b) ÷ (a), the uploads included | {res.saturation_ratio:.3f} |",
        "",
    ]


def _drains(runs: list[Drain], raw_rate: float) -> list[str]:
    base = runs[0].per_second if runs else 0.0
    lines = [
        "### (d) Routing processes draining a backlog",
        "",
        "Routing is stopped; documents (3 recipients each) are accepted and verified by "
        "signing, so their `document.received` events wait in routing's queue; then 1 "
        "`lienthong serve routing` plus N−1 `lienthong serve routing --workers-only` start "
        "together against the same broker and database. *Accepted → inbox/s* counts "
        "deliveries from routing's first exchange of the backlog to the last delivery in an "
        "inbox (process start-up excluded, the pipeline's fill included); *in inboxes/s* "
        "from the first arrival to the last. "
        "*All done/s* runs from the start of the processes until every queue and outbox is "
        "empty again, so it includes start-up (about 2 s) and recording each delivery's "
        "status 01, which follows the arrival. The ingest connector stays one process. "
        "*Cores busy* is the share of all cores busy from the start to idle; *lock waits* the "
        "mean number of routing's database sessions waiting on a row lock (sampled every "
        "100 ms).",
        "",
        "| routing processes | deliveries | delivered | first routed → last arrival s | "
        "**accepted → inbox/s** | ÷ raw (a) | first → last arrival s | "
        "**in inboxes/s** | vs 1 process | start → idle s | **all done/s** | vs 1 process | "
        "cores busy | lock waits |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    done_base = runs[0].per_second_to_idle if runs else 0.0
    for r in runs:
        gain = f"{r.per_second / base:.2f}×" if base else "n/a"
        done_gain = f"{r.per_second_to_idle / done_base:.2f}×" if done_base else "n/a"
        share = r.per_second_routed / raw_rate if raw_rate else math.nan
        lines.append(
            f"| {r.processes} | {r.deliveries} | {r.delivered} | {r.routed_to_last:.1f} | "
            f"**{r.per_second_routed:.1f}** | {share:.3f} | {r.first_to_last:.1f} | "
            f"**{r.per_second:.1f}** | {gain} | {r.start_to_idle:.1f} | "
            f"**{r.per_second_to_idle:.1f}** | {done_gain} | {r.machine_busy * 100:.0f}% | "
            f"{r.routing_lock_waits:.2f} |"
        )
    return [*lines, ""]


def section(res: RoutingResults) -> list[str]:
    lines = [
        f"## 5. {TITLE}",
        "",
        "One fresh stack (RabbitMQ vhost, PostgreSQL databases, SeaweedFS, `lienthong "
        "serve ingest|signing|routing`), every measurement in the same run on the same "
        "broker. Everything shares the machine's cores: the benchmark client, the "
        "services, RabbitMQ, PostgreSQL, SeaweedFS.",
        "",
    ]
    if res.raw:
        lines += _raw(res.raw, res.envelope_bytes, res.raw_cpu_ms)
    if res.raw and (res.drains or res.saturation):
        lines += _target(res)
    if res.saturation:
        lines += _saturation(res.saturation, res)
    if res.paced:
        lines += _paced(res.paced)
    if res.drains:
        lines += _drains(res.drains, res.raw_rate)
    for failure in res.failures:
        lines.append(f"- FAILED: {failure}")
    return [*lines, ""]


def summary(res: RoutingResults) -> list[str]:
    out = []
    for r in res.raw:
        out.append(
            f"  raw kombu confirmed publish+consume, {r.publishers} publisher(s): "
            f"{r.messages_per_second:.0f} msg/s"
        )
    if res.saturation:
        s = res.saturation
        out.append(
            f"  deliveries at saturation: {s.deliveries_per_second:.1f}/s "
            f"({s.accepted_per_second:.1f} docs/s accepted × {s.recipients}), "
            f"{res.saturation_ratio:.3f} of raw with the uploads"
        )
    for p in res.paced:
        a = Summary.of(p.accepted_to_inbox)
        out.append(
            f"  {p.rate:g} docs/s offered ({p.achieved_rate:.1f} achieved): accepted → inbox "
            f"p50 {_ms(a.p50)} ms, p99 {_ms(a.p99)} ms"
        )
    for d in res.drains:
        out.append(
            f"  {d.processes} routing process(es): accepted → inbox {d.per_second_routed:.1f} "
            f"deliveries/s, {d.per_second_to_idle:.1f}/s with every status recorded"
        )
    out.append(f"  accepted → inbox ÷ raw: {res.ratio:.3f} (target {TARGET_RATIO})")
    return out

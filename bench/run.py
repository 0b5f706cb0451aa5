"""``make bench``: build a fresh real stack, run the measurements, write bench/RESULTS.md."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import scenarios
from bench.attack import run_attack
from bench.edxml import run_edxml
from bench.environment import (
    RECIPIENTS,
    BenchStack,
    Unavailable,
    bench_stack,
    check_infrastructure,
    machine_facts,
)
from bench.eshare import EShareOptions, run_eshare
from bench.eshare_data import BENCH, COUNTRY
from bench.large import large_upload
from bench.pdfs import Variants, page_count, write_padded_pdf
from bench.report import MIB, PARTS, Results, markdown, terminal_summary
from bench.routing import RoutingOptions, run_routing
from bench.signing import SigningOptions, run_signing
from bench.web import run_web
from testkit.stack import CORPUS

HERE = Path(__file__).resolve().parent
SOURCE_PDF = CORPUS / "pdf-real/002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--docs", type=int, default=300, help="documents per throughput run")
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 4],
        help="client threads of each throughput run",
    )
    p.add_argument("--warmup", type=int, default=5, help="unmeasured POSTs before each run")
    p.add_argument("--pdf-bytes", type=int, default=MIB, help="size of the throughput PDF")
    p.add_argument("--latency-docs", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0, help="documents/s in the latency run")
    p.add_argument("--poll-ms", type=float, default=15.0, help="inbox poll interval")
    p.add_argument("--large-mib", type=int, default=200, help="size of the large PDF")
    p.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    p.add_argument(
        "--only",
        choices=PARTS,
        help="measure one part only: delivery (the stack: throughput, latency, large upload), "
        "signing (issue 3 targets, no server needed) or routing (issue 4: raw broker vs. "
        "our deliveries, latency under load, 1/2/4 routing processes) or attack (issue 10: "
        "ordinary documents beside bombs and slow uploads) or edxml (issue 14: the CPU of an "
        "edXML package against multipart JSON, no server needed) or web (issue 12: the "
        "inbox page with 10,000 deliveries, batch signing through the web app against "
        "direct signing calls; embedded shape, no server needed) or eshare (issue 13: the "
        "exchange ledger at scale on PostgreSQL) or eshare_country (the same on a registry "
        "of the country's size, 3,520 agencies, without the feed); the other parts' "
        "sections are kept from the existing output file",
    )
    p.add_argument("--signing-rounds", type=int, default=3, help="rounds per signing measurement")
    p.add_argument(
        "--signing-seconds", type=float, default=4.0, help="minimum seconds of a signing round"
    )
    p.add_argument("--signing-min-n", type=int, default=20, help="minimum calls of a round")
    p.add_argument(
        "--signing-large-mib", type=int, default=20, help="size of the large signed document"
    )
    p.add_argument("--routing-raw-messages", type=int, default=3000)
    p.add_argument("--routing-docs", type=int, default=600, help="documents at saturation")
    p.add_argument("--routing-threads", type=int, default=8, help="client threads at saturation")
    p.add_argument("--routing-rates", type=float, nargs="+", default=[20.0, 50.0, 200.0])
    p.add_argument("--routing-rate-seconds", type=float, default=15.0)
    p.add_argument("--routing-scale-docs", type=int, default=1500, help="backlog per scale run")
    p.add_argument("--routing-processes", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--edxml-rounds", type=int, default=5, help="rounds of the edXML part")
    p.add_argument("--edxml-docs", type=int, default=20, help="documents of each kind a round")
    p.add_argument("--web-deliveries", type=int, default=10_000, help="deliveries in the inbox")
    p.add_argument("--web-docs", type=int, default=40, help="drafts in the batch measurement")
    p.add_argument("--web-requests", type=int, default=200, help="timed GETs per inbox page")
    p.add_argument("--web-workers", type=int, default=3, help="documents a batch signs at a time")
    p.add_argument("--attack-rate", type=float, default=20.0, help="ordinary documents/s")
    p.add_argument("--attack-seconds", type=float, default=20.0)
    p.add_argument(
        "--attack-shape",
        choices=("servers", "embedded"),
        default="servers",
        help="the stack under attack: RabbitMQ/PostgreSQL/SeaweedFS, or no servers",
    )
    p.add_argument(
        "--eshare-exchanges",
        type=int,
        default=1_000_000,
        help="synthetic exchanges (× 3 deliveries) of the e-share bench",
    )
    p.add_argument("--eshare-runs", type=int, default=40, help="runs per metrics query")
    p.add_argument(
        "--eshare-feed", type=int, default=1000, help="exchanges fed incrementally (× 3)"
    )
    p.add_argument(
        "--eshare-page-requests",
        type=int,
        default=30,
        help="timed GETs per dashboard page of the e-share bench (0: no dashboard pages)",
    )
    p.add_argument(
        "--eshare-keep",
        action="store_true",
        help="keep the generated e-share database as a template (lt_bench_eshare_N_gG) and "
        "start each run from a copy of it instead of generating and rebuilding again",
    )
    args = p.parse_args(argv)
    if args.docs + args.warmup > 500:
        p.error("--docs + --warmup must be at most 500 (the inbox lists at most 500)")
    return args


def _config(args: argparse.Namespace, source_size: int) -> dict[str, object]:
    max_upload = _max_upload(args)
    return {
        "source PDF": f"`{SOURCE_PDF.relative_to(CORPUS)}` ({source_size} bytes, classic xref) "
        "from the test corpus (tests/corpus), padded by an incremental update holding one "
        "stream of random bytes",
        "throughput": f"{args.docs} documents per run (+{args.warmup} unmeasured warm-up), "
        f"client threads {', '.join(map(str, args.threads))}, PDF of "
        f"{args.pdf_bytes} bytes, 1 recipient",
        "latency": f"{args.latency_docs} documents at {args.rate:g}/s, inbox polled every "
        f"{args.poll_ms:g} ms from one thread, 1 recipient",
        "large upload": f"{args.large_mib} MiB PDF ({args.large_mib * MIB} bytes), RSS sampled "
        "every 50 ms",
        "max upload": f"{max_upload} bytes",
        "command": "`" + " ".join([".venv/bin/python -m bench.run", *sys.argv[1:]]) + "`",
    }


def _max_upload(args: argparse.Namespace) -> int:
    return int(max(2 * args.large_mib * MIB, 100 * MIB))


def _attempt(res: Results, name: str, action: Callable[[], None], bench: BenchStack) -> None:
    print(f"… {name}", flush=True)
    try:
        action()
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"{name}: {type(e).__name__}: {e}")
        for service in ("ingest", "routing"):
            tail = bench.stack.log_tail(service, 1500)
            print(f"--- {service} log tail ---\n{tail}", file=sys.stderr)


def _measure(args: argparse.Namespace, res: Results, work: Path) -> None:
    throughput_pdf = write_padded_pdf(SOURCE_PDF, work / "1mib.pdf", args.pdf_bytes)
    small_pdf = write_padded_pdf(SOURCE_PDF, work / "small.pdf", SOURCE_PDF.stat().st_size + 256)
    for pdf in (throughput_pdf, small_pdf):
        page_count(pdf.path)  # raises if pyhanko (what ingest uses) cannot read it
    print(
        f"… starting RabbitMQ vhost, PostgreSQL databases, SeaweedFS and the services in {work}",
        flush=True,
    )
    with bench_stack(work, _max_upload(args)) as bench:
        res.env = bench.env
        variants = Variants(throughput_pdf)
        for i, threads in enumerate(args.threads):
            recipient = RECIPIENTS[i % 2]

            def run_throughput(threads: int = threads, recipient: str = recipient) -> None:
                res.throughput.append(
                    scenarios.throughput(
                        bench, variants, recipient, threads, args.docs, args.warmup
                    )
                )

            _attempt(res, f"throughput with {threads} client thread(s)", run_throughput, bench)

        def run_latency() -> None:
            res.latency = scenarios.delivery_latency(
                bench,
                Variants(small_pdf),
                RECIPIENTS[2],
                args.latency_docs,
                args.rate,
                args.poll_ms / 1000,
            )

        _attempt(res, "end-to-end delivery latency", run_latency, bench)

        def run_large() -> None:
            began = time.perf_counter()
            big = write_padded_pdf(SOURCE_PDF, work / "large.pdf", args.large_mib * MIB)
            page_count(big.path)
            print(f"  wrote {big.size} bytes in {time.perf_counter() - began:.1f} s", flush=True)
            try:
                res.large = large_upload(bench, big, RECIPIENTS[3])
            finally:
                big.path.unlink(missing_ok=True)

        _attempt(res, f"{args.large_mib} MiB upload", run_large, bench)


def _measure_signing(args: argparse.Namespace, res: Results, work: Path) -> None:
    print("… signing and verification, ours and plain pyHanko", flush=True)
    options = SigningOptions(
        rounds=args.signing_rounds,
        min_seconds=args.signing_seconds,
        min_n=args.signing_min_n,
        large_mib=args.signing_large_mib,
    )
    try:
        res.signing = run_signing(work / "signing", options)
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"signing: {type(e).__name__}: {e}")
        return
    res.failures.extend(res.signing.failures)


def _measure_routing(args: argparse.Namespace, res: Results, work: Path) -> None:
    options = RoutingOptions(
        raw_messages=args.routing_raw_messages,
        saturation_docs=args.routing_docs,
        client_threads=args.routing_threads,
        rates=tuple(args.routing_rates),
        rate_seconds=args.routing_rate_seconds,
        scale_docs=args.routing_scale_docs,
        routing_processes=tuple(args.routing_processes),
    )
    try:
        res.routing = run_routing(work, options)
    except Unavailable as e:
        res.failures.append(f"routing: cannot run, {e}")
        return
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"routing: {type(e).__name__}: {e}")
        return
    res.failures.extend(res.routing.failures)


def _measure_attack(args: argparse.Namespace, res: Results, work: Path) -> None:
    print(f"… ordinary documents beside an attack ({args.attack_shape} shape)", flush=True)
    try:
        res.attack = run_attack(
            work / "attack", args.attack_rate, args.attack_seconds, args.attack_shape
        )
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"attack: {type(e).__name__}: {e}")
        return
    res.failures.extend(res.attack.failures)


def _measure_eshare(
    args: argparse.Namespace, res: Results, work: Path, *, country: bool = False
) -> None:
    layout = COUNTRY if country else BENCH
    print(
        f"… the e-share ledger with {args.eshare_exchanges} exchanges, {layout.size} agencies",
        flush=True,
    )
    options = EShareOptions(
        exchanges=args.eshare_exchanges,
        runs=args.eshare_runs,
        feed_exchanges=args.eshare_feed,
        # The feed's work per delivery does not depend on how many agencies there are.
        batches=() if country else EShareOptions.batches,
        page_requests=args.eshare_page_requests,
        keep_template=args.eshare_keep,
        layout=layout,
    )
    name = "eshare_country" if country else "eshare"
    try:
        answer = run_eshare(options, work / name)
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"{name}: {type(e).__name__}: {e}")
        return
    if country:
        res.eshare_country = answer
    else:
        res.eshare = answer
    res.failures.extend(answer.failures)


def _measure_edxml(args: argparse.Namespace, res: Results, work: Path) -> None:
    print("… edXML packages against multipart JSON (CPU, in process)", flush=True)
    try:
        res.edxml = run_edxml(
            work / "edxml", SOURCE_PDF, rounds=args.edxml_rounds, per_round=args.edxml_docs
        )
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"edxml: {type(e).__name__}: {e}")
        return
    res.failures.extend(res.edxml.failures)


def _measure_web(args: argparse.Namespace, res: Results, work: Path) -> None:
    print("… the web app: inbox with many deliveries, batch signing against direct calls")
    try:
        res.web = run_web(
            work / "web", args.web_deliveries, args.web_docs, args.web_requests, args.web_workers
        )
    except Exception as e:
        traceback.print_exc()
        res.failures.append(f"web: {type(e).__name__}: {e}")
        return
    res.failures.extend(f"web: {f}" for f in res.web.failures)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    parts = (args.only,) if args.only else PARTS
    if "delivery" in parts and not SOURCE_PDF.is_file():
        print(f"bench: the test corpus PDF is missing: {SOURCE_PDF}", file=sys.stderr)
        return 2
    servers_attacked = "attack" in parts and args.attack_shape == "servers"
    if "delivery" in parts or "routing" in parts or servers_attacked:
        try:
            check_infrastructure()
        except Unavailable as e:
            print(f"bench: cannot run, {e}", file=sys.stderr)
            return 2
    began = time.perf_counter()
    res = Results(started=datetime.now(UTC).astimezone().isoformat(timespec="seconds"), parts=parts)
    res.command = " ".join([".venv/bin/python -m bench.run", *sys.argv[1:]])
    res.facts = machine_facts()
    work = Path(tempfile.mkdtemp(prefix="lt-bench-"))
    if "signing" in parts:  # first: single-process CPU timings suffer most from a busy box
        _measure_signing(args, res, work)
    if "delivery" in parts:
        res.config = _config(args, SOURCE_PDF.stat().st_size)
        try:
            _measure(args, res, work)
        except Unavailable as e:
            print(f"bench: cannot run, {e}", file=sys.stderr)
            if res.signing is None:
                return 2
            res.failures.append(f"delivery: cannot run, {e}")  # keep the signing numbers
        except Exception as e:
            traceback.print_exc()
            res.failures.append(f"setup: {type(e).__name__}: {e}")
    if "routing" in parts:
        _measure_routing(args, res, work)
    if "attack" in parts:
        _measure_attack(args, res, work)
    if "edxml" in parts:
        _measure_edxml(args, res, work)
    if "web" in parts:
        _measure_web(args, res, work)
    if "eshare" in parts:
        _measure_eshare(args, res, work)
    if "eshare_country" in parts:
        _measure_eshare(args, res, work, country=True)
    res.finished = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    res.duration_seconds = time.perf_counter() - began
    previous = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
    args.output.write_text(markdown(res, previous), encoding="utf-8")
    print(terminal_summary(res))
    print(f"wrote {args.output}")
    if res.failures:
        print(f"bench: kept the working directory with the service logs: {work}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The signing section of bench/RESULTS.md and its lines in the terminal summary."""

from __future__ import annotations

import math
from typing import NamedTuple

from bench.signing import MB, MIB, RSS_LIMIT, LargeRun, Rate, SigningResults

TITLE = "Signing and verification (issue 3 targets)"


def _rate(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}/s"


def _ratio(ours: float, plain: float) -> float:
    return ours / plain if plain and not (math.isnan(ours) or math.isnan(plain)) else math.nan


def _times(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}×"


def _met(ok: bool | None) -> str:
    if ok is None:
        return "n/a"
    return "**yes**" if ok else "**NO**"


def _at_least(value: float, target: float) -> bool | None:
    return None if math.isnan(value) else value >= target


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


class Row(NamedTuple):
    measurement: str
    short: str  # for the terminal
    ours: str
    plain: str
    ratio: str
    target: str
    met: bool | None  # None: no target, or nothing measured


def targets(res: SigningResults) -> list[Row]:
    """The table of the issue's targets, with context rows (target "none")."""
    m = res.median
    load, once = m("plain_load"), m("plain_once")
    engine, copy = m("ours_engine"), m("ours_copy")
    org, stamp = m("ours_org"), m("plain_stamp")
    verify, plain_verify, service = m("ours_verify"), m("plain_verify"), m("ours_verify_service")
    rows = [
        Row(
            "B-B invisible, 1-page PDF: `PadesEngine.sign` with the `PkiKeySource` signer "
            "vs plain `SimpleSigner.load` + `sign_pdf` per signature",
            "B-B invisible (engine) vs plain load+sign",
            _rate(engine),
            _rate(load),
            _times(_ratio(engine, load)),
            "≥ 5× plain",
            _at_least(_ratio(engine, load), 5),
        ),
        Row(
            "B-B through `SigningService.sign_file` (profile copy: visible text stamp "
            "placed from the page text) vs the same plain",
            "B-B sign_file copy vs plain load+sign",
            _rate(copy),
            _rate(load),
            _times(_ratio(copy, load)),
            "≥ 5× plain",
            _at_least(_ratio(copy, load), 5),
        ),
        Row(
            "*context*: the same two vs plain with the `SimpleSigner` loaded once",
            "context: vs plain signer loaded once",
            f"{_rate(engine)}, {_rate(copy)}",
            _rate(once),
            f"{_times(_ratio(engine, once))}, {_times(_ratio(copy, once))}",
            "none",
            None,
        ),
        Row(
            "Visible `organization` stamp over a personal signature, B-B: `sign_file` vs "
            "plain `TextStampStyle` (seal `PdfImage`, `GlyphAccumulatorFactory` font)",
            "organization stamp B-B",
            _rate(org),
            _rate(stamp),
            _times(_ratio(org, stamp)),
            "≥ 30/s",
            _at_least(org, 30),
        ),
        Row(
            "Verification of a 1-page B-T letter: `Verifier(PKI root).verify(bytes)` vs "
            "plain `validate_pdf_signature`",
            "verify 1-page B-T",
            _rate(verify),
            _rate(plain_verify),
            _times(_ratio(verify, plain_verify)),
            "≥ 50/s",
            _at_least(verify, 50),
        ),
        Row(
            "*context*: the same through the service's own verifier (`ProcessVerifier`, a "
            "worker process, as `POST /v1/verify` and verify-on-arrival run it)",
            "context: verify through ProcessVerifier",
            _rate(service),
            _rate(plain_verify),
            _times(_ratio(service, plain_verify)),
            "none",
            None,
        ),
    ]
    large = res.large
    if large is not None:
        size = f"{large.size / MB:.1f} MB"
        rows.append(
            Row(
                f"{size} letter signed personal then organization at B-LT and verified: "
                "peak RSS of a fresh process doing only that",
                f"{size} sign B-LT x2 + verify, peak RSS",
                "error" if large.error else f"{large.peak_rss / MB:.0f} MB",
                "not measured",
                "n/a",
                f"< {RSS_LIMIT // MB} MB",
                None if large.error else large.within_limit,
            )
        )
    return rows


def _details(rates: dict[str, Rate]) -> list[str]:
    lines = [
        "| measurement | rounds: calls in seconds | per round | median | ms per call |",
        "|---|---|---|---:|---:|",
    ]
    for rate in rates.values():
        rounds = ", ".join(f"{n} in {s:.2f} s" for n, s in rate.rounds) or "failed"
        per = ", ".join(f"{r:.1f}" for r in rate.rates)
        ms = 1000 / rate.median if rate.rounds else math.nan
        lines.append(
            f"| {rate.label} | {rounds} | {per} | {_rate(rate.median)} | "
            f"{'n/a' if math.isnan(ms) else f'{ms:.1f}'} |"
        )
    return lines


def _large(large: LargeRun, interval: float) -> list[str]:
    lines = [
        f"### The {large.size / MB:.1f} MB document ({_mib(large.size)})",
        "",
        "`official_letter(padding_bytes=20 MiB)` (the letter plus one uncompressed stream of "
        "random bytes), written to disk. A fresh `python -m bench.signing_large` process "
        "builds the service with `create_app`, signs the file with the **personal** profile "
        "at **B-LT**, seals that output with the **organization** profile at **B-LT** (the "
        "issued-document flow: leader, then clerk's seal; both with the CRLs embedded), and "
        "verifies the result with `Verifier` (our root, no fetching), all file to file. "
        "*Peak* is the kernel's high-water mark of the process's RSS (`VmHWM` in "
        "/proc/self/status, read at the end of each phase); the parent also samples the RSS "
        f"with psutil every {interval * 1000:.0f} ms. `ru_maxrss` would be wrong here: "
        "Linux keeps the pre-exec high-water mark across the exec of a vfork'ed child, so a "
        "child's `ru_maxrss` starts at its parent's RSS.",
        "",
    ]
    if large.error:
        return [*lines, f"Error: `{large.error}`", ""]
    lines += [
        "| phase | seconds | peak RSS so far (VmHWM) | highest sample in the phase | samples |",
        "|---|---:|---:|---:|---:|",
    ]
    for p in large.phases:
        lines.append(
            f"| {p.name} | {p.seconds:.2f} | {p.max_rss / MB:.0f} MB ({_mib(p.max_rss)}) | "
            f"{p.sampled_peak / MB:.0f} MB | {p.samples} |"
        )
    lines += [
        "",
        f"Peak RSS **{large.peak_rss / MB:.0f} MB** ({_mib(large.peak_rss)}; highest psutil "
        f"sample {large.sampled_peak / MB:.0f} MB), limit {RSS_LIMIT // MB} MB: "
        f"{'within' if large.within_limit else '**over**'}. Verdict of the verification: "
        f"**{large.verdict}** ({large.signatures} signature fields"
        f"{'; ' + '; '.join(large.reasons) if large.reasons else ''}); signed output "
        f"{large.output_size:,} bytes; the process ran {large.wall_seconds:.1f} s in all.",
        "",
    ]
    return lines


def section(res: SigningResults) -> list[str]:
    o = res.options
    lines = [
        f"## 4. {TITLE}",
        "",
        "Measured by `bench/signing.py` in one run, on one machine, side by side: ours is the "
        "signing service's own code as `create_app` wires it, called in this process; plain "
        "pyHanko runs the same work on the same files in a worker process that imports "
        "nothing of Liên Thông. Each rate is the median of "
        f"{o.rounds} rounds (ours and plain alternate round by round), each round ≥ "
        f"{o.min_seconds:g} s and ≥ {o.min_n} calls, single-threaded. A ratio is ours ÷ "
        f"plain. The section took {res.seconds:.0f} s.",
        "",
        "| measurement | ours | plain pyHanko | ratio | target | met? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in targets(res):
        lines.append(
            f"| {r.measurement} | {r.ours} | {r.plain} | {r.ratio} | {r.target} | {_met(r.met)} |"
        )
    lines += ["", "### Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in res.settings.items()]
    lines += ["", "### Every round", "", *_details(res.rates), ""]
    lines += [
        "### Checks",
        "",
        "One output of each signing measurement, and the B-T letter, verified afterwards "
        "with `Verifier` (our root): a measurement whose output is not valid does not count.",
        "",
        *(
            f"- {what}: {'ok' if ok else '**FAILED**'} ({detail})"
            for what, ok, detail in res.checks
        ),
        "",
    ]
    if res.large is not None:
        lines += _large(res.large, o.rss_interval)
    return lines


def summary(res: SigningResults) -> list[str]:
    out = [f"  signing ({res.seconds:.0f} s):"]
    for r in targets(res):
        met = "n/a" if r.met is None else "met" if r.met else "NOT met"
        out.append(
            f"    {r.short}: ours {r.ours}, plain {r.plain}, ratio {r.ratio}, "
            f"target {r.target}: {met}"
        )
    return out

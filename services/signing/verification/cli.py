"""``lienthong verify FILE``: judge every signature of a PDF.

Exit codes: 0 valid, 1 invalid, 2 indeterminate, 3 unsigned, 4 unreadable
(click's own usage errors, e.g. an unreadable ``--trust`` file, also exit 2).
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import click

from services.signing.algorithm_policy import AlgorithmPolicy, AlgorithmPolicyError
from services.signing.verification.engine import DEFAULT_TIMEOUT, Verifier
from services.signing.verification.htmlreport import VERDICT_LABELS, render_html
from services.signing.verification.model import SignatureReport, VerificationReport
from services.signing.verification.trust import (
    CertificateLoadError,
    configured_trust_roots,
    load_certificates,
)


def _default_roots() -> list[object]:
    """The service's configured roots (internal CA + operator's national roots)."""
    from services.signing.settings import SigningSettings

    return list(configured_trust_roots(SigningSettings.from_env()))


def _configured_policy() -> AlgorithmPolicy:
    """LIENTHONG_ALGORITHM_POLICY when set, else the defaults."""
    from services.common.settings import Env
    from services.signing.settings import algorithm_policy

    return algorithm_policy(Env())


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    "trust",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A trust anchor (PEM or DER, a PEM file may hold several). Repeatable.",
)
@click.option(
    "--no-default-trust",
    is_flag=True,
    help="Do not trust the roots configured for the signing service, only --trust ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write a readable HTML report to this file.",
)
@click.option("--no-fetch", is_flag=True, help="Never fetch CRLs/OCSP over the network.")
@click.option(
    "--at",
    "at",
    default=None,
    help="Verify as of this ISO 8601 time (with offset) instead of now.",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds before the analysis is abandoned (verdict: unreadable).",
)
@click.option(
    "--algorithm-policy",
    "algorithm_policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Accepted algorithms with sunset dates (JSON); default: LIENTHONG_ALGORITHM_POLICY.",
)
def verify(
    file: Path,
    trust: tuple[Path, ...],
    no_default_trust: bool,
    as_json: bool,
    html_out: Path | None,
    no_fetch: bool,
    at: str | None,
    timeout: float,
    algorithm_policy: Path | None,
) -> None:
    """Verify every signature field of FILE and print a verdict.

    Exit code: 0 valid, 1 invalid, 2 indeterminate, 3 unsigned, 4 unreadable.
    """
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    roots: list[object] = []
    for path in trust:
        try:
            roots.extend(load_certificates(path))
        except CertificateLoadError as e:
            raise click.BadParameter(str(e), param_hint="--trust") from e
    if not no_default_trust:
        try:
            roots.extend(_default_roots())
        except Exception as e:  # configuration problems must not hide the --trust roots
            click.echo(f"warning: configured trust roots not loaded: {e}", err=True)
    now = None
    if at is not None:
        try:
            now = datetime.fromisoformat(at)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--at") from e
        if now.tzinfo is None:
            raise click.BadParameter("give a UTC offset, e.g. +07:00", param_hint="--at")
    try:
        policy = (
            AlgorithmPolicy.from_file(algorithm_policy)
            if algorithm_policy is not None
            else _configured_policy()
        )
    except AlgorithmPolicyError as e:
        raise click.BadParameter(str(e), param_hint="--algorithm-policy") from e
    verifier = Verifier(
        roots, allow_fetching=not no_fetch, timeout=timeout, algorithm_policy=policy
    )
    report = verifier.verify(file, now=now)
    if html_out is not None:
        html_out.write_text(render_html(report), encoding="utf-8")
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(summary(report))
    raise SystemExit(report.exit_code)


def summary(report: VerificationReport) -> str:
    vi, en = VERDICT_LABELS[report.verdict]
    lines = [f"{report.verdict.upper()}: {vi} ({en}) — {report.file_name or ''}"]
    if report.indication is not None:
        lines.append(f"ETSI: {_etsi(report.indication, report.sub_indication)}")
    for s in (*report.signatures, *report.document_timestamps):
        lines.append(_signature_line(s))
    if report.reasons:
        lines.append("reasons:")
        lines += [f"  - {r}" for r in report.reasons]
    if report.notes:
        lines.append("notes:")
        lines += [f"  - {n}" for n in report.notes]
    return "\n".join(lines)


def _etsi(indication: str, sub: str | None) -> str:
    return f"{indication}/{sub}" if sub else indication


def _signature_line(s: SignatureReport) -> str:
    parts = [f"  [{s.verdict}] {s.field_name} ({s.kind})"]
    if s.indication is not None:
        parts.append(_etsi(s.indication, s.sub_indication))
    if s.signer is not None:
        parts.append(f"signer: {s.signer.subject} #{s.signer.serial}")
    if s.signing_time:
        parts.append(f"time: {s.signing_time}")
    if s.pades_level:
        parts.append(s.pades_level)
    if s.coverage:
        parts.append(f"coverage: {s.coverage}")
    if s.modification_level:
        parts.append(f"changes: {s.modification_level}")
    return " | ".join(parts)


def register(group: click.Group) -> None:
    group.add_command(verify)


if __name__ == "__main__":  # python -m services.signing.verification.cli FILE ...
    verify()

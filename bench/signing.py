"""Signing and verification speed against the issue 3 targets, side by side with plain pyHanko.

    .venv/bin/python -m bench.run --only signing      (writes bench/RESULTS.md)

Everything runs in one run on one 1-page PDF (``official_letter()``) with RSA-2048
certificates of a PKI created in a temporary directory (``init_pki``, ``issuing.issue``).
Ours is the signing service as ``create_app`` wires it (SQLite, file store, the
filesystem bus: no server needed), driven through its own objects:

* B-B invisible: ``PadesEngine.sign`` with the signer of ``PkiKeySource.signer`` (the
  certificate looked up and checked in the database, the key from the ``KeyRing``),
  what the API does minus the visible stamp;
* B-B full: ``SigningService.sign_file``, profile ``copy`` (a text stamp placed from
  the page's text);
* organization: ``SigningService.sign_file``, profile ``organization`` (seal and
  caption), on the letter already carrying a personal signature;
* verification: ``Verifier(PKI root).verify(bytes)`` of a personal B-T letter (our
  in-process TSA), and the service's own verifier (a worker process) for context;
* a 20 MB letter signed personal then organization at B-LT and verified, in a fresh
  process whose peak RSS is measured (``bench/signing_large.py``).

Plain pyHanko runs in a worker process of its own (``bench/signing_plain.py``) so that
nothing the service patches into pyHanko at import time reaches the baseline. Rounds
alternate between the two sides; each rate is the median of the rounds, each round at
least ``min_seconds`` long. One output of every signing measurement, ours and plain, is
verified afterwards: a fast but broken signature would not count.
"""

from __future__ import annotations

import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.measure import RssSampler
from bench.signing_plain import run_for

if TYPE_CHECKING:  # imported where used: `--only delivery` never loads the service
    from services.signing.signing_service import SignOptions

ROOT = Path(__file__).resolve().parents[1]
AGENCY = "000.00.00.H41"
ORGANIZATION = "UBND tỉnh Nghệ An"
PERSON = "Nguyễn Văn An"  # the name official_letter() prints in the signer block
PASSPHRASE = "bench passphrase, long enough"
MIB = 1024 * 1024
MB = 1000 * 1000
RSS_LIMIT = 300 * MB  # "under 300 MB", read strictly (286.1 MiB)


@dataclass(frozen=True)
class SigningOptions:
    rounds: int = 3
    min_seconds: float = 4.0
    min_n: int = 20
    large_mib: int = 20
    rss_interval: float = 0.02


@dataclass
class Rate:
    """One measurement: (calls, seconds) per round."""

    label: str
    rounds: list[tuple[int, float]] = field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [n / s for n, s in self.rounds]

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.rounds else float("nan")

    @property
    def calls(self) -> int:
        return sum(n for n, _ in self.rounds)


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    max_rss: int  # the kernel's high-water mark at the end of the phase
    sampled_peak: int  # highest psutil sample during the phase
    samples: int


@dataclass
class LargeRun:
    size: int
    sample_interval: float
    phases: list[Phase] = field(default_factory=list)
    peak_rss: int = 0  # the child's VmHWM at its end
    sampled_peak: int = 0
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)
    signatures: int = 0
    output_size: int = 0
    wall_seconds: float = 0.0
    error: str = ""

    @property
    def within_limit(self) -> bool:
        return not self.error and 0 < self.peak_rss < RSS_LIMIT


@dataclass
class SigningResults:
    options: SigningOptions
    settings: dict[str, str] = field(default_factory=dict)
    rates: dict[str, Rate] = field(default_factory=dict)
    large: LargeRun | None = None
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # what, ok, detail
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def median(self, key: str) -> float:
        rate = self.rates.get(key)
        return rate.median if rate else float("nan")


LABELS = {
    "plain_load": "plain: SimpleSigner.load + sign_pdf per signature, invisible B-B",
    "plain_once": "plain: SimpleSigner loaded once + sign_pdf, invisible B-B",
    "ours_engine": "ours: PadesEngine.sign, PkiKeySource signer, invisible B-B",
    "ours_copy": "ours: SigningService.sign_file, profile copy, B-B",
    "plain_stamp": "plain: TextStampStyle (seal PdfImage, GlyphAccumulator font), B-B",
    "ours_org": "ours: SigningService.sign_file, profile organization, B-B",
    "plain_verify": "plain: validate_pdf_signature, B-T letter",
    "ours_verify": "ours: Verifier.verify(bytes), B-T letter",
    "ours_verify_service": "ours: the service's verifier (worker process), B-T letter",
}


class PlainWorker:
    """The plain-pyHanko process: one JSON task in, one JSON answer out."""

    def __init__(self, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
        self.log = log
        with log.open("wb") as stderr:  # fontTools warns on every subset it makes
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench.signing_plain"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def run(self, task: dict[str, Any]) -> tuple[int, float]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(task) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            tail = self.log.read_text(errors="replace")[-800:]
            raise RuntimeError(f"the plain pyHanko worker died ({self.process.poll()}): {tail}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"plain pyHanko, task {task['task']}: {answer['error']}")
        return int(answer["n"]), float(answer["seconds"])

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _openssl() -> str:
    from cryptography.hazmat.backends.openssl.backend import backend

    return str(backend.openssl_version_text())


class Bench:
    """The signing service over a fresh PKI, and the files both sides work on."""

    def __init__(self, work: Path) -> None:
        from services.common.wiring import context_of, migrate, runtime_of
        from services.signing.app import create_app
        from services.signing.context import SigningContext
        from services.signing.images import draw_seal, draw_signature
        from services.signing.pki.ca import init_pki
        from services.signing.pki.issuing import issue
        from services.signing.settings import SigningSettings
        from testkit.official_doc import official_letter

        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.env = {
            "LIENTHONG_DATA_DIR": str(work / "data"),
            "LIENTHONG_PKI_DIR": str(work / "pki"),
            "LIENTHONG_PKI_PASSPHRASE": PASSPHRASE,
        }
        self.settings = SigningSettings.from_env(self.env)
        began = time.perf_counter()
        init_pki(self.settings)
        self.pki_seconds = time.perf_counter() - began
        migrate("signing", self.settings.database_url)
        self.app = create_app(self.settings)
        self.context = context_of(self.app, SigningContext)
        self.runtime = runtime_of(self.app)
        self.signing = self.context.signing
        db = self.context.db
        self.org = issue(db, self.settings, agency=AGENCY, kind="organization", name=ORGANIZATION)
        self.person = issue(
            db, self.settings, agency=AGENCY, kind="personal", name=PERSON, title="Chủ tịch"
        )
        self.seal_png = draw_seal(ORGANIZATION, AGENCY)
        self.signing.register_image(AGENCY, "seal", self.seal_png)
        self.signing.register_image(AGENCY, "signature", draw_signature(PERSON), PERSON)
        self.letter = official_letter()
        self.letter_path = self._write("letter.pdf", self.letter)
        self.seal_path = self._write("seal.png", self.seal_png)
        self.personal_path = self._write(
            "personal-bb.pdf", self._sign(self.letter_path, "personal", "B-B")
        )
        self.bt = self._sign(self.letter_path, "personal", "B-T")
        self.bt_path = self._write("personal-bt.pdf", self.bt)
        self._export_key()

    # --- setup ---------------------------------------------------------------

    def _write(self, name: str, data: bytes) -> Path:
        path = self.work / name
        path.write_bytes(data)
        return path

    def options_for(self, profile: str, level: str) -> SignOptions:
        from services.signing.appearance import Profile
        from services.signing.pades import Level
        from services.signing.signing_service import SignOptions

        kind = Profile(profile)
        person = PERSON if kind is Profile.PERSONAL else None
        return SignOptions(kind, Level.parse(level), AGENCY, person=person)

    def _sign(self, source: Path, profile: str, level: str) -> bytes:
        out = io.BytesIO()
        self.signing.sign_file(source, out, self.options_for(profile, level))
        return out.getvalue()

    def _export_key(self) -> None:
        """The organization key and certificate as plain files, for SimpleSigner.load."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        material = self.context.pki.material
        p12 = self.settings.pki_dir / self.org.key_ref.removeprefix("pkcs12:")
        key, cert, _ = pkcs12.load_key_and_certificates(
            p12.read_bytes(), self.settings.pki_passphrase
        )
        assert key is not None and cert is not None
        self.key_pem = self._write(
            "org-key.pem",
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(self.settings.pki_passphrase),
            ),
        )
        self.cert_pem = self._write("org-cert.pem", cert.public_bytes(serialization.Encoding.PEM))
        self.chain_pem = material.paths.chain
        self.root_pem = material.paths.cert("root")

    def organization_field(self) -> tuple[int, tuple[int, int, int, int]]:
        """Page and box of the seal our organization profile places on the letter."""
        from services.signing.pdfinfo import signature_widgets

        sealed = self._write(
            "organization-bb.pdf", self._sign(self.personal_path, "organization", "B-B")
        )
        _, widgets = signature_widgets(sealed)
        seal = next(w for w in widgets if w.field_name.startswith("organization"))
        return seal.page, seal.box.as_tuple()

    # --- ours ----------------------------------------------------------------

    def engine_invisible(self) -> Callable[[], bytes]:
        from services.signing.pades import Level, SignatureRequest

        engine, keys = self.signing.engine, self.signing.keys
        request = SignatureRequest(field_name="Signature1", level=Level.B_B)

        def sign() -> bytes:
            signer, _identity = keys.signer(AGENCY, "organization", None)
            out = io.BytesIO()
            engine.sign(io.BytesIO(self.letter), out, signer, request)
            return out.getvalue()

        return sign

    def sign_file(self, source: Path, profile: str) -> Callable[[], bytes]:
        options = self.options_for(profile, "B-B")
        signing = self.signing

        def sign() -> bytes:
            out = io.BytesIO()
            signing.sign_file(source, out, options)
            return out.getvalue()

        return sign

    def verify(self, verifier: Any) -> Callable[[], Any]:
        data = self.bt

        def verify() -> Any:
            report = verifier.verify(data)
            if report.verdict.value != "valid":
                raise RuntimeError(f"our verifier says {report.verdict.value}: {report.reasons}")
            return report

        return verify

    def close(self) -> None:
        for close in self.runtime.on_close:
            close()
        self.context.db.dispose()


def _measure_ours(action: Callable[[], object], options: SigningOptions) -> tuple[int, float]:
    for _ in range(2):  # warm-up, as the plain worker does
        action()
    return run_for(action, options.min_n, options.min_seconds)


def _check(res: SigningResults, what: str, pdf: bytes, verifier: Any, signatures: int) -> None:
    report = verifier.verify(pdf)
    signed = [s for s in report.signatures if s.verdict.value != "unsigned"]
    ok = report.verdict.value == "valid" and len(signed) == signatures
    detail = f"{report.verdict.value}, {len(signed)} signature(s)"
    if report.reasons:
        detail += ": " + "; ".join(report.reasons[:2])
    res.checks.append((what, ok, detail))
    if not ok:
        res.failures.append(f"signing: {what}: {detail}")


def _large(bench: Bench, options: SigningOptions) -> LargeRun:
    from testkit.official_doc import official_letter

    source = bench.work / "large.pdf"
    source.write_bytes(official_letter(padding_bytes=options.large_mib * MIB))
    run = LargeRun(size=source.stat().st_size, sample_interval=options.rss_interval)
    config = {
        "input": str(source),
        "personal": str(bench.work / "large-personal.pdf"),
        "organization": str(bench.work / "large-organization.pdf"),
        "agency": AGENCY,
        "person": PERSON,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_")}
    env.update(bench.env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    began = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.signing_large", json.dumps(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with RssSampler(child.pid, options.rss_interval, children=False) as sampler:
        out, err = child.communicate(timeout=600)
    run.wall_seconds = time.perf_counter() - began
    if child.returncode != 0:
        run.error = f"exit {child.returncode}: {err.strip()[-800:]}"
        return run
    answer = json.loads(out.strip().splitlines()[-1])
    for p in answer["phases"]:
        during = sampler.between(p["start"], p["end"])
        run.phases.append(
            Phase(
                name=p["name"],
                seconds=p["end"] - p["start"],
                max_rss=p["max_rss"],
                sampled_peak=max(during, default=0),
                samples=len(during),
            )
        )
    run.peak_rss = answer["max_rss"]
    run.sampled_peak = max((rss for _, rss in sampler.samples), default=0)
    run.verdict = answer["verdict"]
    run.reasons = answer["reasons"]
    run.signatures = answer["signatures"]
    run.output_size = answer["sizes"]["organization"]
    for name in ("large.pdf", "large-personal.pdf", "large-organization.pdf"):
        (bench.work / name).unlink(missing_ok=True)
    return run


def _settings(bench: Bench, options: SigningOptions, field_box: tuple[int, ...]) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    material = bench.context.pki.material
    key = material.root_cert.public_key()
    root_bits = key.key_size if isinstance(key, rsa.RSAPublicKey) else "?"
    org_key = bench.org.certificate.public_key()
    org_bits = org_key.key_size if isinstance(org_key, rsa.RSAPublicKey) else "?"
    packages = ", ".join(
        f"{p} {_version(p)}"
        for p in (
            "pyHanko",
            "pyhanko-certvalidator",
            "cryptography",
            "asn1crypto",
            "fonttools",
            "uharfbuzz",
            "Pillow",
        )
    )
    return {
        "PDF": f"`official_letter()` from testkit/official_doc.py: 1 page, "
        f"{len(bench.letter):,} bytes (reportlab, embedded LTSerif subset)",
        "keys": f"organization and personal certificates RSA-{org_bits}, SHA-256, issued by "
        f"the issuing CA under an RSA-{root_bits} root; PKI created by `init_pki` in "
        f"{bench.pki_seconds:.1f} s in a temporary directory",
        "ours": "`create_app(SigningSettings.from_env(env))` on the embedded defaults (SQLite, "
        "file store, filesystem bus); its `SigningService`, `PadesEngine` (in-process TSA "
        "for B-T/B-LT), `PkiKeySource`. The organization stamp is placed over a personal "
        "signature this service made: it finds the page text read for that signature "
        "(kept under the SHA-256 of the signed output), as a seal over a leader's signature "
        "does; the copy profile signs an unsigned letter and reads its page every time",
        "plain pyHanko": "a separate Python process that imports pyHanko only (the service "
        "replaces pyHanko's hex-string reader when its verifier is imported); the same PDF "
        "bytes, key and certificates (`org-key.pem`: the organization key as encrypted "
        "PKCS#8 PEM, the cert, `chain.pem`); pyHanko's defaults otherwise, so it sizes the "
        "signature container itself (`bytes_reserved=None`) where ours reserves a fixed size",
        "plain stamp": f"`TextStampStyle(stamp_text='%(organization)s\\n%(when)s', "
        "text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory('LTSerif-Regular.ttf', "
        "font_size=7)), background=PdfImage(seal PNG))`, built once; field at the box our "
        f"organization profile chose, {field_box}",
        "timing": f"{options.rounds} rounds per measurement, alternating ours and plain; a "
        f"round runs until ≥ {options.min_seconds:g} s and ≥ {options.min_n} calls, after 2 "
        "unmeasured calls; rate = calls ÷ seconds, the median of the rounds",
        "Python": f"{platform.python_implementation()} {sys.version.split()[0]}, {_openssl()}",
        "packages": packages,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def run_signing(work: Path, options: SigningOptions | None = None) -> SigningResults:
    from services.signing.verification import Verifier

    options = options or SigningOptions()
    res = SigningResults(options)
    began = time.perf_counter()
    bench = Bench(work)
    plain = PlainWorker(work / "plain-pyhanko.log")
    try:
        page, box = bench.organization_field()
        res.settings = _settings(bench, options, box)
        verifier = Verifier(bench.context.pki.trust_roots())
        key_files = {
            "key": str(bench.key_pem),
            "cert": str(bench.cert_pem),
            "chain": str(bench.chain_pem),
            "passphrase": PASSPHRASE,
        }
        timing = {"min_n": options.min_n, "min_seconds": options.min_seconds}
        samples = {name: work / f"sample-{name}.pdf" for name in ("plain_load", "plain_stamp")}
        plain_tasks: dict[str, dict[str, Any]] = {
            "plain_load": {
                "task": "sign_load",
                "pdf": str(bench.letter_path),
                "sample": str(samples["plain_load"]),
            },
            "plain_once": {"task": "sign_once", "pdf": str(bench.letter_path)},
            "plain_stamp": {
                "task": "stamp",
                "pdf": str(bench.personal_path),
                "sample": str(samples["plain_stamp"]),
                "seal": str(bench.seal_path),
                "font": str(ROOT / "services/signing/fonts/LTSerif-Regular.ttf"),
                "organization": ORGANIZATION,
                "field": "Seal",
                "page": page,
                "box": list(box),
            },
            "plain_verify": {
                "task": "verify",
                "pdf": str(bench.bt_path),
                "root": str(bench.root_pem),
            },
        }
        ours: dict[str, Callable[[], Any]] = {
            "ours_engine": bench.engine_invisible(),
            "ours_copy": bench.sign_file(bench.letter_path, "copy"),
            "ours_org": bench.sign_file(bench.personal_path, "organization"),
            "ours_verify": bench.verify(verifier),
            "ours_verify_service": bench.verify(bench.context.verifier),
        }
        order = [
            "plain_load",
            "plain_once",
            "ours_engine",
            "ours_copy",
            "plain_stamp",
            "ours_org",
            "plain_verify",
            "ours_verify",
            "ours_verify_service",
        ]
        for key in order:
            res.rates[key] = Rate(LABELS[key])
        for round_no in range(1, options.rounds + 1):
            for key in order:
                print(f"  round {round_no}/{options.rounds}: {LABELS[key]}", flush=True)
                try:
                    if key in plain_tasks:
                        outcome = plain.run({**plain_tasks[key], **key_files, **timing})
                    else:
                        outcome = _measure_ours(ours[key], options)
                except Exception as e:
                    res.failures.append(f"signing: {LABELS[key]}: {type(e).__name__}: {e}")
                    continue
                res.rates[key].rounds.append(outcome)
                n, seconds = outcome
                print(f"    {n} in {seconds:.2f} s: {n / seconds:.1f}/s", flush=True)
        for what, action, count in (
            ("ours, invisible B-B", ours["ours_engine"], 1),
            ("ours, copy profile B-B", ours["ours_copy"], 1),
            ("ours, organization over personal B-B", ours["ours_org"], 2),
        ):
            _check(res, what, action(), verifier, count)
        for what, path, count in (
            ("plain, invisible B-B", samples["plain_load"], 1),
            ("plain, TextStampStyle seal over personal B-B", samples["plain_stamp"], 2),
        ):
            if path.exists():
                _check(res, what, path.read_bytes(), verifier, count)
            else:
                res.failures.append(f"signing: {what}: the plain worker wrote no sample")
        _check(res, "ours, the B-T letter being verified", bench.bt, verifier, 1)
        print(f"  {options.large_mib} MB letter: sign and verify in a fresh process", flush=True)
        try:
            res.large = _large(bench, options)
        except Exception as e:
            res.failures.append(f"signing: {options.large_mib} MB document: {e}")
        if res.large is not None:
            if res.large.error:
                res.failures.append(f"signing: {options.large_mib} MB: {res.large.error}")
            elif res.large.verdict != "valid":
                res.failures.append(
                    f"signing: the {options.large_mib} MB document verified "
                    f"{res.large.verdict}: {res.large.reasons}"
                )
    finally:
        plain.close()
        bench.close()
    res.seconds = time.perf_counter() - began
    res.settings["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return res

"""Signing settings, read once from the environment."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.errors import SettingsError
from services.common.settings import PREFIX, CommonSettings, Env, database_url, load_common
from services.signing.algorithm_policy import AlgorithmPolicy, AlgorithmPolicyError

DEFAULT_PKCS11_LIB = "/usr/lib/softhsm/libsofthsm2.so"


@dataclass(frozen=True)
class Pkcs11Settings:
    library: str
    token_label: str | None
    pin: str | None = field(repr=False)  # never logged; from LIENTHONG_PKCS11_PIN or a file


@dataclass(frozen=True)
class PdfLimits:
    """The budget of all work on an untrusted PDF (see README, "Limits")."""

    workers: int = 2  # worker processes; one slow document holds only one of them
    timeout_seconds: float = 30.0  # per task; the worker is killed and replaced beyond
    memory_mb: int = 1024  # address space of each worker (RLIMIT_AS)
    max_decoded_mb: int = 64  # bytes decoded from streams, in total, for one task
    max_revisions: int = 500  # incremental updates (cross-reference sections)
    max_objects: int = 1_000_000  # cross-reference entries, over all revisions
    queue_seconds: float = 30.0  # how long a request waits for a free worker (503 beyond)

    @property
    def max_decoded_bytes(self) -> int:
        return self.max_decoded_mb * 1024 * 1024


TSA_ACCESS = ("open", "token", "agencies")


@dataclass(frozen=True)
class SigningSettings:
    common: CommonSettings
    database_url: str
    port: int
    pki_dir: Path
    pki_passphrase: bytes = field(repr=False)
    public_url: str  # the base URL written into certificates (CRL, OCSP, TSA)
    trust_roots: tuple[Path, ...]  # extra trust anchors (national CAs), PEM or DER
    pkcs11: Pkcs11Settings
    # The operator's trust store: every *.pem/*.crt/*.cer/*.der file in it is a trust
    # anchor (managed with `lienthong trust add|list|remove`; may not exist yet).
    trust_dir: Path = Path("var/trust")
    # Fetch CRLs/OCSP named in certificates of documents being verified. Off by default:
    # those URLs come from untrusted files (a request-forgery risk on the internal network).
    verify_allow_fetching: bool = False
    pdf: PdfLimits = field(default_factory=PdfLimits)
    # Who may use POST /pki/tsa: open (anyone), token (the service token), agencies (the
    # service token or one of tsa_tokens, bearer tokens the operator hands to agencies).
    tsa_access: str = "token"
    tsa_tokens: tuple[str, ...] = field(default=(), repr=False)
    # The largest edXML package whose XML-DSig signature is made or checked: the whole
    # package is parsed and canonicalized in memory (about five times its size).
    xml_signature_max_bytes: int = 48 * 1024 * 1024
    # Accepted digests and key sizes, with sunset dates (LIENTHONG_ALGORITHM_POLICY, a
    # JSON file; see services/signing/verification/algorithms.py and README).
    algorithm_policy: AlgorithmPolicy = field(default_factory=AlgorithmPolicy)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SigningSettings:
        env = Env(environ)
        common = load_common(env)
        pki_dir = Path(env.text("PKI_DIR", str(common.data_dir / "pki"))).resolve()
        return cls(
            common=common,
            database_url=database_url(env, "signing", common.data_dir),
            port=env.port("SIGNING_PORT", 8002),
            pki_dir=pki_dir,
            pki_passphrase=_passphrase(env, pki_dir),
            xml_signature_max_bytes=env.integer(
                "XML_SIGNATURE_MAX_BYTES", 48 * 1024 * 1024, minimum=64 * 1024
            ),
            public_url=env.url("SIGNING_PUBLIC_URL", common.signing_url, ("http", "https")),
            trust_roots=_trust_roots(env),
            trust_dir=_trust_dir(env, common.data_dir),
            pkcs11=Pkcs11Settings(
                library=env.text("PKCS11_LIB", DEFAULT_PKCS11_LIB),
                token_label=env.raw("PKCS11_TOKEN"),
                pin=_pin(env),
            ),
            verify_allow_fetching=env.text("VERIFY_ALLOW_FETCHING", "false").lower()
            in ("1", "true", "yes"),
            pdf=_pdf_limits(env),
            tsa_access=_tsa_access(env),
            tsa_tokens=_tsa_tokens(env),
            algorithm_policy=algorithm_policy(env),
        )


def algorithm_policy(env: Env) -> AlgorithmPolicy:
    raw = env.raw("ALGORITHM_POLICY")
    if raw is None:
        return AlgorithmPolicy()
    try:
        return AlgorithmPolicy.from_file(Path(raw))
    except AlgorithmPolicyError as e:
        raise SettingsError(f"{PREFIX}ALGORITHM_POLICY: {e}") from e


def _seconds(env: Env, name: str, default: float, maximum: float) -> float:
    raw = env.raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds, got {raw!r}") from e
    if not 0 < value <= maximum:
        raise SettingsError(f"{PREFIX}{name} must be above 0 and at most {maximum:g}, got {raw}")
    return value


def _pdf_limits(env: Env) -> PdfLimits:
    d = PdfLimits()
    return PdfLimits(
        workers=env.integer("PDF_WORKERS", d.workers, minimum=1, maximum=64),
        timeout_seconds=_seconds(env, "PDF_TIMEOUT_SECONDS", d.timeout_seconds, 3600),
        memory_mb=env.integer("PDF_MEMORY_MB", d.memory_mb, minimum=256, maximum=65536),
        max_decoded_mb=env.integer("PDF_MAX_DECODED_MB", d.max_decoded_mb, minimum=1),
        max_revisions=env.integer("PDF_MAX_REVISIONS", d.max_revisions, minimum=1),
        max_objects=env.integer("PDF_MAX_OBJECTS", d.max_objects, minimum=100),
        queue_seconds=_seconds(env, "PDF_QUEUE_SECONDS", d.queue_seconds, 3600),
    )


def _tsa_access(env: Env) -> str:
    mode = env.text("TSA_ACCESS", "token").lower()
    if mode not in TSA_ACCESS:
        raise SettingsError(f"{PREFIX}TSA_ACCESS must be open, token or agencies, got {mode!r}")
    if mode == "agencies" and not env.raw("TSA_TOKENS"):
        raise SettingsError(f"{PREFIX}TSA_ACCESS=agencies needs {PREFIX}TSA_TOKENS")
    return mode


def _tsa_tokens(env: Env) -> tuple[str, ...]:
    raw = env.raw("TSA_TOKENS") or ""
    tokens = tuple(t.strip() for t in raw.split(",") if t.strip())
    if any(len(t) < 16 for t in tokens):
        raise SettingsError(f"{PREFIX}TSA_TOKENS: each token must be at least 16 characters")
    return tokens


def _passphrase(env: Env, pki_dir: Path) -> bytes:
    given = env.raw("PKI_PASSPHRASE")
    if given is not None:
        if len(given) < 12:
            raise SettingsError(f"{PREFIX}PKI_PASSPHRASE must be at least 12 characters")
        return given.encode()
    # Embedded default: a random passphrase kept beside the keys it protects, readable
    # by this user only. Production sets LIENTHONG_PKI_PASSPHRASE from a secret store.
    path = pki_dir / "passphrase"
    if not path.exists():
        pki_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def _trust_roots(env: Env) -> tuple[Path, ...]:
    raw = env.raw("TRUST_ROOTS")
    if raw is None:
        return ()
    paths = tuple(Path(p.strip()) for p in raw.replace(";", ",").split(",") if p.strip())
    for path in paths:
        if not path.is_file():
            raise SettingsError(f"{PREFIX}TRUST_ROOTS names {path}, which is not a file")
    return paths


def _trust_dir(env: Env, data_dir: Path) -> Path:
    raw = env.raw("TRUST_DIR")  # empty counts as unset, as for every setting
    path = Path(raw).resolve() if raw is not None else data_dir / "trust"
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{PREFIX}TRUST_DIR names {path}, which is not a directory")
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise SettingsError(f"{PREFIX}TRUST_DIR {path} cannot be read by this user")
    return path


def _pin(env: Env) -> str | None:
    pin_file = env.raw("PKCS11_PIN_FILE")
    if pin_file is not None:
        try:
            return Path(pin_file).read_text().strip()
        except OSError as e:
            raise SettingsError(f"{PREFIX}PKCS11_PIN_FILE cannot be read: {e}") from e
    return env.raw("PKCS11_PIN")

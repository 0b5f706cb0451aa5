"""Signing settings, read once from the environment."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.errors import SettingsError
from services.common.settings import PREFIX, CommonSettings, Env, database_url, load_common

DEFAULT_PKCS11_LIB = "/usr/lib/softhsm/libsofthsm2.so"


@dataclass(frozen=True)
class Pkcs11Settings:
    library: str
    token_label: str | None
    pin: str | None = field(repr=False)  # never logged; from LIENTHONG_PKCS11_PIN or a file


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
    # Fetch CRLs/OCSP named in certificates of documents being verified. Off by default:
    # those URLs come from untrusted files (a request-forgery risk on the internal network).
    verify_allow_fetching: bool = False

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
            public_url=env.url("SIGNING_PUBLIC_URL", common.signing_url, ("http", "https")),
            trust_roots=_trust_roots(env),
            pkcs11=Pkcs11Settings(
                library=env.text("PKCS11_LIB", DEFAULT_PKCS11_LIB),
                token_label=env.raw("PKCS11_TOKEN"),
                pin=_pin(env),
            ),
            verify_allow_fetching=env.text("VERIFY_ALLOW_FETCHING", "false").lower()
            in ("1", "true", "yes"),
        )


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


def _pin(env: Env) -> str | None:
    pin_file = env.raw("PKCS11_PIN_FILE")
    if pin_file is not None:
        try:
            return Path(pin_file).read_text().strip()
        except OSError as e:
            raise SettingsError(f"{PREFIX}PKCS11_PIN_FILE cannot be read: {e}") from e
    return env.raw("PKCS11_PIN")

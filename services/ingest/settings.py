"""Ingest settings, read once from the environment."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.common.errors import SettingsError
from services.common.settings import PREFIX, CommonSettings, Env, database_url, load_common
from services.ingest.webhooks.addresses import Network, parse_networks

MULTIPART_FRAMING = 64 * 1024  # boundaries and part headers of a multipart upload


@dataclass(frozen=True)
class WebhookSettings:
    """Push delivery. Times are in seconds (decimals allowed)."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_age: float = 24 * 3600.0  # a job still failing this long after it was queued is dead
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    allow_loopback: bool = True
    # Networks (private ones) webhooks may reach besides public addresses; default none.
    allow_networks: tuple[Network, ...] = ()
    concurrency: int = 8
    # Keys that encrypt the agencies' webhook secrets at rest: the first one encrypts,
    # every one decrypts (rotation). Never logged.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class EdxmlSettings:
    """Limits on an edXML package (``POST /v1/edxml``); 0 for a byte limit means derived
    from the upload limit (see :meth:`IngestSettings.from_env`)."""

    max_package_bytes: int = 140 * 1024 * 1024  # the whole package as posted
    max_attachment_bytes: int = 100 * 1024 * 1024  # one attachment, decoded (or unzipped)
    max_attachments: int = 50  # attachments in one package, zip members included
    max_zip_members: int = 100  # entries one zipped attachment may list
    max_zip_ratio: int = 200  # decoded size / compressed size of one zip member
    max_elements: int = 20_000  # elements in one package
    max_depth: int = 64  # elements nested inside each other
    max_text_chars: int = 65_536  # the text of one element (attachments aside)


@dataclass(frozen=True)
class IngestSettings:
    common: CommonSettings
    database_url: str
    port: int
    max_upload_bytes: int
    # The metadata of an upload, as a form field or as a file part: one cap for both.
    max_metadata_bytes: int = 500_000
    # The most pages a PDF may declare (its /Pages /Count).
    max_pdf_pages: int = 10_000
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    # How long a checked API key is remembered (0: look every key up on every request).
    api_key_cache_seconds: float = 10.0
    edxml: EdxmlSettings = field(default_factory=EdxmlSettings)

    @property
    def max_request_bytes(self) -> int:
        """The largest ``POST /v1/documents`` body: the PDF, its metadata, the framing."""
        return self.max_upload_bytes + self.max_metadata_bytes + MULTIPART_FRAMING

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestSettings:
        env = Env(environ)
        common = load_common(env)
        url = database_url(env, "ingest", common.data_dir)
        return cls(
            common=common,
            database_url=url,
            port=env.port("INGEST_PORT", 8001),
            max_upload_bytes=env.integer("MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1024),
            max_metadata_bytes=env.integer("MAX_METADATA_BYTES", 500_000, minimum=1024),
            max_pdf_pages=env.integer("MAX_PDF_PAGES", 10_000, minimum=1, maximum=2**31 - 1),
            webhook=_webhook(env, common, embedded=url.startswith("sqlite")),
            api_key_cache_seconds=_seconds(env, "API_KEY_CACHE_SECONDS", 10.0, 0.0, 300),
            edxml=_edxml(env),
        )


def _edxml(env: Env) -> EdxmlSettings:
    upload = env.integer("MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1024)
    metadata = env.integer("MAX_METADATA_BYTES", 500_000, minimum=1024)
    # base64 makes 3 bytes 4 characters; the XML around them is at most the metadata.
    package = upload * 4 // 3 + metadata + MULTIPART_FRAMING
    return EdxmlSettings(
        max_package_bytes=env.integer("EDXML_MAX_PACKAGE_BYTES", package, minimum=4096),
        max_attachment_bytes=env.integer("EDXML_MAX_ATTACHMENT_BYTES", upload, minimum=1024),
        max_attachments=env.integer("EDXML_MAX_ATTACHMENTS", 50, minimum=1, maximum=1000),
        max_zip_members=env.integer("EDXML_MAX_ZIP_MEMBERS", 100, minimum=1, maximum=10_000),
        max_zip_ratio=env.integer("EDXML_MAX_ZIP_RATIO", 200, minimum=2),
        max_elements=env.integer("EDXML_MAX_ELEMENTS", 20_000, minimum=100),
        max_depth=env.integer("EDXML_MAX_DEPTH", 64, minimum=16, maximum=1000),
        max_text_chars=env.integer("EDXML_MAX_TEXT_CHARS", 65_536, minimum=1024),
    )


def _webhook(env: Env, common: CommonSettings, *, embedded: bool) -> WebhookSettings:
    return WebhookSettings(
        connect_timeout=_seconds(env, "WEBHOOK_CONNECT_TIMEOUT", 5.0, 0.01, 120),
        read_timeout=_seconds(env, "WEBHOOK_TIMEOUT", 10.0, 0.01, 600),
        max_age=_seconds(env, "WEBHOOK_MAX_AGE", 24 * 3600.0, 0.01, 30 * 24 * 3600),
        backoff_base=_seconds(env, "WEBHOOK_BACKOFF_BASE", 2.0, 0.001, 3600),
        backoff_cap=_seconds(env, "WEBHOOK_BACKOFF_CAP", 600.0, 0.001, 24 * 3600),
        # Loopback receivers are what a laptop demo and the tests use; a real deployment
        # (PostgreSQL) refuses them unless told otherwise: they reach the host's own services.
        allow_loopback=_flag(env, "WEBHOOK_ALLOW_LOOPBACK", embedded),
        allow_networks=_networks(env, "WEBHOOK_ALLOW_NETWORKS"),
        concurrency=env.integer("WEBHOOK_CONCURRENCY", 8, minimum=1, maximum=64),
        secret_keys=_secret_keys(env, common.service_token),
    )


def _seconds(env: Env, name: str, default: float, minimum: float, maximum: float) -> float:
    raw = env.raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise SettingsError(f"{PREFIX}{name} must be a number of seconds, got {raw!r}") from e
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise SettingsError(f"{PREFIX}{name} must be between {minimum} and {maximum} seconds")
    return value


def _flag(env: Env, name: str, default: bool) -> bool:
    raw = env.raw(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, got {raw!r}")


def _networks(env: Env, name: str) -> tuple[Network, ...]:
    try:
        return parse_networks(env.raw(name) or "")
    except ValueError as e:
        raise SettingsError(f"{PREFIX}{name}: {e}") from e


def _secret_keys(env: Env, service_token: str) -> tuple[str, ...]:
    raw = env.raw("WEBHOOK_SECRET_KEY")
    if raw is None:
        # The service token: every process of a deployment already shares it (embedded,
        # from $DATA_DIR/service-token). A key of its own can be rotated on its own.
        return (service_token,)
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    if not keys or any(len(k) < 16 for k in keys):
        raise SettingsError(
            f"{PREFIX}WEBHOOK_SECRET_KEY must be one or more comma-separated keys of at "
            "least 16 characters (the first encrypts, every one decrypts)"
        )
    return keys

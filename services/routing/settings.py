"""Routing settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import unquote, urlsplit

from services.common.errors import SettingsError
from services.common.settings import PREFIX, CommonSettings, Env, database_url, load_common

SMTP_SCHEMES = ("smtp", "smtps")  # and smtp+starttls://


@dataclass(frozen=True)
class SmtpSettings:
    """Where deadline emails go out: smtp:// (plain), smtp+starttls:// or smtps:// (TLS)."""

    host: str
    port: int
    security: str  # "none" | "starttls" | "tls"
    username: str | None
    password: str | None
    sender: str  # the From header, e.g. "Liên Thông <lienthong@nghean.gov.vn>"
    timeout: float

    def __repr__(self) -> str:  # never print the password
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, sender={self.sender!r})"
        )


@dataclass(frozen=True)
class MailSettings:
    smtp: SmtpSettings | None  # None: email is off
    max_attempts: int
    retry_seconds: int  # first backoff; doubles per attempt
    max_retry_seconds: int


@dataclass(frozen=True)
class RoutingSettings:
    common: CommonSettings
    database_url: str
    port: int
    deadline_scan_seconds: int = 30
    mail: MailSettings = MailSettings(None, 6, 60, 3600)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RoutingSettings:
        env = Env(environ)
        common = load_common(env)
        return cls(
            common=common,
            database_url=database_url(env, "routing", common.data_dir),
            port=env.port("ROUTING_PORT", 8003),
            deadline_scan_seconds=env.integer(
                "DEADLINE_SCAN_SECONDS", 30, minimum=1, maximum=86400
            ),
            mail=MailSettings(
                smtp=smtp_settings(env),
                max_attempts=env.integer("MAIL_MAX_ATTEMPTS", 6, minimum=1, maximum=20),
                retry_seconds=env.integer("MAIL_RETRY_SECONDS", 60, minimum=0, maximum=86400),
                max_retry_seconds=env.integer(
                    "MAIL_MAX_RETRY_SECONDS", 3600, minimum=0, maximum=7 * 86400
                ),
            ),
        )


def smtp_settings(env: Env) -> SmtpSettings | None:
    if env.raw("SMTP_URL") is None:
        return None
    url = env.url("SMTP_URL", "", SMTP_SCHEMES)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    security = {"smtp": "none", "smtp+starttls": "starttls", "smtps": "tls"}.get(scheme)
    if security is None:
        raise SettingsError(
            f"{PREFIX}SMTP_URL must start with smtp://, smtp+starttls:// or smtps://, got {scheme}"
        )
    try:
        port = parts.port
    except ValueError as e:
        raise SettingsError(f"{PREFIX}SMTP_URL has a bad port: {e}") from e
    if not parts.hostname:
        raise SettingsError(f"{PREFIX}SMTP_URL needs a host, e.g. smtp://mail.example.vn:25")
    sender = env.raw("SMTP_FROM")
    if sender is None:
        raise SettingsError(f"{PREFIX}SMTP_FROM is required when {PREFIX}SMTP_URL is set")
    _name, address = parseaddr(sender)
    if "@" not in address or any(c in sender for c in "\r\n"):
        raise SettingsError(f"{PREFIX}SMTP_FROM must be an email address, got {sender!r}")
    timeout = env.integer("SMTP_TIMEOUT_SECONDS", 30, minimum=1, maximum=600)
    return SmtpSettings(
        host=parts.hostname,
        port=port or (465 if security == "tls" else 25),
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        sender=sender,
        timeout=float(timeout),
    )

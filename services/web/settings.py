"""Web app settings, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.common.errors import SettingsError
from services.common.settings import PREFIX, CommonSettings, Env, database_url, load_common


@dataclass(frozen=True)
class WebSettings:
    common: CommonSettings
    database_url: str
    port: int
    session_hours: int = 10  # a working day; an idle session ends after it
    max_failed_logins: int = 5
    lock_minutes: int = 15
    max_upload_bytes: int = 50 * 1024 * 1024
    # Cookies marked Secure: "auto" follows the request (TLS or X-Forwarded-Proto
    # from a trusted proxy), "always" for deployments behind TLS, "never" for tests.
    secure_cookies: str = "auto"
    batch_workers: int = 2  # documents of a batch signed at the same time

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebSettings:
        env = Env(environ)
        common = load_common(env)
        secure = env.text("WEB_SECURE_COOKIES", "auto").lower()
        if secure not in ("auto", "always", "never"):
            raise SettingsError(f"{PREFIX}WEB_SECURE_COOKIES must be auto, always or never")
        return cls(
            common=common,
            database_url=database_url(env, "web", common.data_dir),
            port=env.port("WEB_PORT", 8000),
            session_hours=env.integer("WEB_SESSION_HOURS", 10, minimum=1, maximum=24 * 30),
            max_failed_logins=env.integer("WEB_MAX_FAILED_LOGINS", 5, minimum=1, maximum=100),
            lock_minutes=env.integer("WEB_LOCK_MINUTES", 15, minimum=1, maximum=24 * 60),
            max_upload_bytes=env.integer(
                "WEB_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1024, maximum=512 * 1024 * 1024
            ),
            secure_cookies=secure,
            batch_workers=env.integer("WEB_BATCH_WORKERS", 3, minimum=1, maximum=16),
        )

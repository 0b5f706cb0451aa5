"""Typed, frozen settings read once from LIENTHONG_* variables.

Each service builds its own settings dataclass from these helpers in its
``settings.py``; a bad value fails at start with the variable's name.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from services.common.errors import SettingsError

PREFIX = "LIENTHONG_"


class Env:
    """Reads and checks environment variables; every error names its variable."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)

    def raw(self, name: str) -> str | None:
        value = self._environ.get(PREFIX + name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def integer(
        self, name: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError as e:
            raise SettingsError(f"{PREFIX}{name} must be a whole number, got {value!r}") from e
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise SettingsError(f"{PREFIX}{name} must be {bound}, got {number}")
        return number

    def port(self, name: str, default: int) -> int:
        return self.integer(name, default, minimum=1, maximum=65535)

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default)
        scheme = urlsplit(value).scheme.lower()
        if not any(scheme == s or scheme.startswith(s + "+") for s in schemes):
            allowed = ", ".join(schemes)
            raise SettingsError(
                f"{PREFIX}{name} must be a URL with one of the schemes {allowed}, got {value!r}"
            )
        return value


BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "memory", "filesystem", "redis", "sqla", "sqlalchemy")
DATABASE_SCHEMES = ("sqlite", "postgresql")
STORAGE_SCHEMES = ("s3", "file")


@dataclass(frozen=True)
class BrokerSettings:
    url: str
    transport_options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_amqp(self) -> bool:
        return urlsplit(self.url).scheme.lower() in ("amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class InputLimits:
    """Bounds on what a request may carry, checked before any work (README, Settings).

    JSON bodies (and the metadata of an upload) are parsed in one place,
    ``services.common.web.parse_json``, under the first four; the status report's
    free-form parts are bounded by the last three, at ingest and again at routing.
    """

    json_max_bytes: int = 1024 * 1024  # a JSON request body
    json_max_depth: int = 32  # nested objects and arrays
    json_max_items: int = 20_000  # values in one document (objects, arrays, scalars)
    json_max_string: int = 65_536  # characters in one string or key
    description_max_chars: int = 2000  # a status report's description (or a reason)
    staff_max_bytes: int = 4096  # a status report's staff object, as compact JSON
    staff_max_depth: int = 4  # nesting inside the staff object


def load_limits(env: Env) -> InputLimits:
    return InputLimits(
        json_max_bytes=env.integer("MAX_JSON_BYTES", 1024 * 1024, minimum=1024),
        json_max_depth=env.integer("MAX_JSON_DEPTH", 32, minimum=4, maximum=200),
        json_max_items=env.integer("MAX_JSON_ITEMS", 20_000, minimum=100),
        json_max_string=env.integer("MAX_JSON_STRING", 65_536, minimum=256),
        description_max_chars=env.integer("MAX_DESCRIPTION_CHARS", 2000, minimum=1),
        staff_max_bytes=env.integer("MAX_STAFF_BYTES", 4096, minimum=2),
        staff_max_depth=env.integer("MAX_STAFF_DEPTH", 4, minimum=1, maximum=32),
    )


@dataclass(frozen=True)
class CommonSettings:
    data_dir: Path
    host: str
    broker: BrokerSettings
    storage_url: str
    service_token: str
    ingest_url: str
    signing_url: str
    routing_url: str
    max_deliveries: int
    limits: InputLimits = field(default_factory=InputLimits)


def _broker(env: Env, data_dir: Path) -> BrokerSettings:
    url = env.url("BROKER_URL", "filesystem://", BROKER_SCHEMES)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "filesystem":
        # The embedded bus: one folder shared by every process on the host.
        path = urlsplit(url).path
        folder = Path(path) if path not in ("", "/") else data_dir / "bus"
        folder.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            # Exchange bindings live here; without it kombu uses ./control in the cwd,
            # and processes started elsewhere would not see each other's bindings.
            "control_folder": str(folder / "control"),
            "polling_interval": 0.05,
        }
        return BrokerSettings(url="filesystem://", transport_options=options)
    if scheme in ("amqp", "amqps", "pyamqp"):
        return BrokerSettings(url=url, transport_options={"confirm_publish": True})
    return BrokerSettings(url=url, transport_options={"polling_interval": 0.05})


def _service_token(env: Env, data_dir: Path) -> str:
    token = env.raw("SERVICE_TOKEN")
    if token is not None:
        if len(token) < 16:
            raise SettingsError(f"{PREFIX}SERVICE_TOKEN must be at least 16 characters")
        return token
    # Embedded default: one random token shared by the processes of this data dir.
    path = data_dir / "service-token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_common(env: Env) -> CommonSettings:
    data_dir = Path(env.text("DATA_DIR", "./var")).resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SettingsError(f"{PREFIX}DATA_DIR {data_dir} cannot be created: {e}") from e
    host = env.text("HOST", "127.0.0.1")
    storage_url = env.url("STORAGE_URL", (data_dir / "objects").as_uri(), STORAGE_SCHEMES)
    return CommonSettings(
        data_dir=data_dir,
        host=host,
        broker=_broker(env, data_dir),
        storage_url=storage_url,
        service_token=_service_token(env, data_dir),
        ingest_url=env.url(
            "INGEST_URL", f"http://127.0.0.1:{env.port('INGEST_PORT', 8001)}", ("http", "https")
        ),
        signing_url=env.url(
            "SIGNING_URL", f"http://127.0.0.1:{env.port('SIGNING_PORT', 8002)}", ("http", "https")
        ),
        routing_url=env.url(
            "ROUTING_URL", f"http://127.0.0.1:{env.port('ROUTING_PORT', 8003)}", ("http", "https")
        ),
        max_deliveries=env.integer("MAX_DELIVERIES", 5, minimum=1, maximum=8),
        limits=load_limits(env),
    )


def database_url(env: Env, service: str, data_dir: Path) -> str:
    default = f"sqlite:///{data_dir / (service + '.sqlite3')}"
    url = env.url(f"{service.upper()}_DATABASE_URL", default, DATABASE_SCHEMES)
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url

"""services/common/settings.py and the per-service settings built on it."""

from __future__ import annotations

import dataclasses
import stat
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Producer, Queue

from services.common.bus.connection import connect
from services.common.errors import SettingsError
from services.ingest.settings import IngestSettings
from services.routing.settings import RoutingSettings
from services.signing.settings import SigningSettings

# --- defaults: the embedded shape ------------------------------------------


def test_ingest_defaults_are_the_embedded_shape(base_env: dict[str, str]) -> None:
    settings = IngestSettings.from_env(base_env)
    data_dir = Path(base_env["LIENTHONG_DATA_DIR"]).resolve()
    common = settings.common

    assert common.data_dir == data_dir
    assert data_dir.is_dir()
    assert common.host == "127.0.0.1"
    # Bus: the filesystem transport, in a folder under the data dir.
    assert common.broker.url == "filesystem://"
    assert not common.broker.is_amqp
    bus = data_dir / "bus"
    assert bus.is_dir()
    assert common.broker.transport_options["data_folder_in"] == str(bus)
    assert common.broker.transport_options["data_folder_out"] == str(bus)
    # Storage: a local directory as a file:// URL.
    assert common.storage_url == (data_dir / "objects").as_uri()
    assert common.storage_url.startswith("file:///")
    # Database: SQLite, one file per service.
    assert settings.database_url == f"sqlite:///{data_dir / 'ingest.sqlite3'}"
    # Ports and the URLs the services use to reach each other.
    assert settings.port == 8001
    assert common.ingest_url == "http://127.0.0.1:8001"
    assert common.signing_url == "http://127.0.0.1:8002"
    assert common.routing_url == "http://127.0.0.1:8003"
    assert common.max_deliveries == 5
    assert settings.max_upload_bytes == 100 * 1024 * 1024


def test_routing_and_signing_defaults(base_env: dict[str, str]) -> None:
    data_dir = Path(base_env["LIENTHONG_DATA_DIR"]).resolve()
    routing = RoutingSettings.from_env(base_env)
    signing = SigningSettings.from_env(base_env)

    assert routing.port == 8003
    assert routing.database_url == f"sqlite:///{data_dir / 'routing.sqlite3'}"
    assert signing.port == 8002
    assert signing.database_url == f"sqlite:///{data_dir / 'signing.sqlite3'}"


def test_embedded_service_token_is_generated_once_per_data_dir(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    first = IngestSettings.from_env(base_env).common.service_token
    second = RoutingSettings.from_env(base_env).common.service_token
    other = IngestSettings.from_env({"LIENTHONG_DATA_DIR": str(tmp_path / "other")})

    assert len(first) >= 16
    assert first == second  # every process of one data dir shares it
    assert other.common.service_token != first
    token_file = Path(base_env["LIENTHONG_DATA_DIR"]) / "service-token"
    assert token_file.read_text().strip() == first
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_explicit_values_are_used(base_env: dict[str, str], tmp_path: Path) -> None:
    env = {
        **base_env,
        "LIENTHONG_HOST": "0.0.0.0",
        "LIENTHONG_INGEST_PORT": "9101",
        "LIENTHONG_SIGNING_PORT": "9102",
        "LIENTHONG_ROUTING_PORT": "9103",
        "LIENTHONG_ROUTING_URL": "https://routing.internal:8443",
        "LIENTHONG_SERVICE_TOKEN": "s" * 16,
        "LIENTHONG_STORAGE_URL": "s3://key:secret@minio:9000/lienthong",
        "LIENTHONG_MAX_DELIVERIES": "8",
        "LIENTHONG_MAX_UPLOAD_BYTES": "1024",
    }
    settings = IngestSettings.from_env(env)

    assert settings.port == 9101
    assert settings.common.host == "0.0.0.0"
    assert settings.common.ingest_url == "http://127.0.0.1:9101"
    assert settings.common.signing_url == "http://127.0.0.1:9102"
    assert settings.common.routing_url == "https://routing.internal:8443"
    assert settings.common.service_token == "s" * 16
    assert settings.common.storage_url == "s3://key:secret@minio:9000/lienthong"
    assert settings.common.max_deliveries == 8
    assert settings.max_upload_bytes == 1024
    assert SigningSettings.from_env(env).port == 9102
    assert RoutingSettings.from_env(env).port == 9103


def test_blank_values_fall_back_to_defaults(base_env: dict[str, str]) -> None:
    settings = IngestSettings.from_env(
        {**base_env, "LIENTHONG_INGEST_PORT": "   ", "LIENTHONG_BROKER_URL": ""}
    )
    assert settings.port == 8001
    assert settings.common.broker.url == "filesystem://"


def test_values_are_stripped(base_env: dict[str, str]) -> None:
    settings = IngestSettings.from_env({**base_env, "LIENTHONG_INGEST_PORT": " 9001\n"})
    assert settings.port == 9001


def test_settings_are_frozen(base_env: dict[str, str]) -> None:
    settings = IngestSettings.from_env(base_env)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.common.host = "0.0.0.0"  # type: ignore[misc]


def test_only_the_given_mapping_is_read(
    base_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIENTHONG_INGEST_PORT", "not-a-port")
    assert IngestSettings.from_env(base_env).port == 8001


# --- bad values fail at start, naming the variable --------------------------

BAD_VALUES = [
    ("LIENTHONG_INGEST_PORT", "0"),
    ("LIENTHONG_INGEST_PORT", "65536"),
    ("LIENTHONG_INGEST_PORT", "-1"),
    ("LIENTHONG_INGEST_PORT", "eighty"),
    ("LIENTHONG_INGEST_PORT", "80.5"),
    ("LIENTHONG_SIGNING_PORT", "70000"),
    ("LIENTHONG_ROUTING_PORT", "x"),
    ("LIENTHONG_MAX_UPLOAD_BYTES", "ten"),
    ("LIENTHONG_MAX_UPLOAD_BYTES", "100"),
    ("LIENTHONG_MAX_UPLOAD_BYTES", "1e9"),
    ("LIENTHONG_MAX_DELIVERIES", "0"),
    ("LIENTHONG_MAX_DELIVERIES", "9"),
    ("LIENTHONG_BROKER_URL", "http://rabbit:5672"),
    ("LIENTHONG_BROKER_URL", "kafka://broker:9092"),
    ("LIENTHONG_BROKER_URL", "rabbit.local"),
    ("LIENTHONG_STORAGE_URL", "http://minio:9000/bucket"),
    ("LIENTHONG_STORAGE_URL", "/var/lib/lienthong/objects"),
    ("LIENTHONG_STORAGE_URL", "ftp://files/objects"),
    ("LIENTHONG_INGEST_DATABASE_URL", "mysql://user@db/ingest"),
    ("LIENTHONG_INGEST_DATABASE_URL", "postgres://user@db/ingest"),
    ("LIENTHONG_INGEST_DATABASE_URL", "ingest.sqlite3"),
    ("LIENTHONG_INGEST_URL", "ftp://ingest"),
    ("LIENTHONG_ROUTING_URL", "routing:8003"),
    ("LIENTHONG_SERVICE_TOKEN", "short"),
    ("LIENTHONG_SERVICE_TOKEN", "x" * 15),
    ("LIENTHONG_API_KEY_CACHE_SECONDS", "soon"),
    ("LIENTHONG_API_KEY_CACHE_SECONDS", "-1"),
    ("LIENTHONG_API_KEY_CACHE_SECONDS", "3600"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES)
def test_bad_value_fails_naming_the_variable(
    base_env: dict[str, str], variable: str, value: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        IngestSettings.from_env({**base_env, variable: value})
    assert variable in str(caught.value)
    assert caught.value.code == "bad_setting"


@pytest.mark.parametrize(
    ("settings_class", "variable"),
    [
        (RoutingSettings, "LIENTHONG_ROUTING_DATABASE_URL"),
        (SigningSettings, "LIENTHONG_SIGNING_DATABASE_URL"),
    ],
)
def test_bad_database_url_of_each_service(
    base_env: dict[str, str],
    settings_class: type[RoutingSettings | SigningSettings],
    variable: str,
) -> None:
    with pytest.raises(SettingsError, match=variable):
        settings_class.from_env({**base_env, variable: "mongodb://db/x"})


def test_a_data_dir_that_cannot_be_created_names_the_variable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError, match="LIENTHONG_DATA_DIR"):
        IngestSettings.from_env({"LIENTHONG_DATA_DIR": str(blocker / "data")})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("LIENTHONG_MAX_DELIVERIES", "12", "must be between 1 and 8, got 12"),
        ("LIENTHONG_INGEST_PORT", "0", "must be between 1 and 65535, got 0"),
        ("LIENTHONG_MAX_UPLOAD_BYTES", "12", "must be >= 1024, got 12"),
        ("LIENTHONG_INGEST_PORT", "http", "must be a whole number, got 'http'"),
    ],
)
def test_range_errors_say_what_is_allowed(
    base_env: dict[str, str], variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        IngestSettings.from_env({**base_env, variable: value})
    assert str(caught.value) == f"{variable} {message}"


# --- URLs that are rewritten or completed -----------------------------------


def test_postgresql_url_gets_the_psycopg3_driver(base_env: dict[str, str]) -> None:
    settings = IngestSettings.from_env(
        {**base_env, "LIENTHONG_INGEST_DATABASE_URL": "postgresql://lt:pw@db:5432/ingest"}
    )
    assert settings.database_url == "postgresql+psycopg://lt:pw@db:5432/ingest"


def test_postgresql_with_an_explicit_driver_is_kept(base_env: dict[str, str]) -> None:
    url = "postgresql+psycopg://lt:pw@db:5432/routing"
    settings = RoutingSettings.from_env({**base_env, "LIENTHONG_ROUTING_DATABASE_URL": url})
    assert settings.database_url == url


def test_sqlite_url_is_kept(base_env: dict[str, str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    settings = SigningSettings.from_env({**base_env, "LIENTHONG_SIGNING_DATABASE_URL": url})
    assert settings.database_url == url


@pytest.mark.parametrize(
    "url",
    ["amqp://guest:guest@rabbit:5672//", "amqps://lt:pw@rabbit:5671/lt", "pyamqp://rabbit//"],
)
def test_amqp_broker_gets_publisher_confirms(base_env: dict[str, str], url: str) -> None:
    broker = IngestSettings.from_env({**base_env, "LIENTHONG_BROKER_URL": url}).common.broker
    assert broker.url == url
    assert broker.is_amqp
    assert broker.transport_options == {"confirm_publish": True}


def test_memory_broker_is_not_amqp(base_env: dict[str, str]) -> None:
    broker = IngestSettings.from_env(
        {**base_env, "LIENTHONG_BROKER_URL": "memory://"}
    ).common.broker
    assert broker.url == "memory://"
    assert not broker.is_amqp
    assert "confirm_publish" not in broker.transport_options


def test_filesystem_broker_with_an_explicit_folder(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "shared-bus"
    broker = IngestSettings.from_env(
        {**base_env, "LIENTHONG_BROKER_URL": f"filesystem://{folder}"}
    ).common.broker
    assert broker.url == "filesystem://"
    assert folder.is_dir()
    assert broker.transport_options["data_folder_in"] == str(folder)
    assert broker.transport_options["data_folder_out"] == str(folder)


def test_embedded_bus_is_shared_by_processes_started_in_different_directories(
    base_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN.md: the embedded bus is "one folder shared by every process on the host".

    The filesystem transport keeps exchange bindings in its ``control_folder``,
    which defaults to ``./control`` in the current directory: a process started
    elsewhere does not see the bindings and its topic messages are lost.
    """
    broker = IngestSettings.from_env(base_env).common.broker
    name = f"lt.unit.{uuid.uuid4().hex[:8]}"
    exchange = Exchange(name, type="topic", durable=True)
    queue = Queue(name, exchange=exchange, routing_key="agency.#", durable=True)

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    with connect(broker) as declaring:  # e.g. the ingest connector declares its queue
        queue(declaring.default_channel).declare()
    monkeypatch.chdir(tmp_path / "two")
    with connect(broker) as publishing:  # e.g. routing, started from another directory
        Producer(publishing.default_channel).publish(
            {"hello": "world"}, exchange=exchange, routing_key="agency.x", serializer="json"
        )
    with Connection(broker.url, transport_options=dict(broker.transport_options)) as reading:
        message = queue(reading.default_channel).get(no_ack=True)
    assert message is not None, "a message published from another directory was lost"
    assert message.decode() == {"hello": "world"}

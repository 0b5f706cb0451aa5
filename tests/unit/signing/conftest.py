"""Fixtures shared by the signing tests.

- ``shared_pki_dir`` / ``settings`` / ``db`` / ``pki``: one PKI per test session
  (creating RSA-4096/3072 keys takes seconds), a fresh SQLite database per test.
- ``kit``: the signing service's parts on a PKI of their own, with one agency
  provisioned (certificates, seal, signature image); its certificates point at a
  local port that ``pki_server`` serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.db import Database
from services.signing.models import Base
from services.signing.pki import models as _models  # noqa: F401 - registers the table
from services.signing.pki.ca import init_pki
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.settings import SigningSettings
from testkit.infra import free_port
from tests.unit.signing.kit import PkiServer, SigningKit, build_kit, serving_pki, settings_for


@pytest.fixture(scope="session")
def shared_pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pki-session")
    init_pki(settings_for(root / "data", root / "pki"))
    return root / "pki"


@pytest.fixture
def settings(tmp_path: Path, shared_pki_dir: Path) -> SigningSettings:
    return settings_for(tmp_path / "data", shared_pki_dir)


@pytest.fixture
def db(settings: SigningSettings) -> Iterator[Database]:
    database = Database(settings.database_url)
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def pki(settings: SigningSettings, db: Database) -> PkiService:
    return build_pki_service(settings, db)


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKit]:
    made = build_kit(tmp_path_factory.mktemp("signing-kit"), f"http://127.0.0.1:{free_port()}")
    yield made
    made.close()


@pytest.fixture
def pki_server(kit: SigningKit) -> Iterator[PkiServer]:
    with serving_pki(kit) as served:
        yield served

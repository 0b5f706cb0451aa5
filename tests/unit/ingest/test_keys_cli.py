"""lienthong keys create / list / revoke: a key made with 'keys create' can be revoked,
by the key itself on stdin, by its id, or by its label."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.common.db import Database
from services.common.errors import Unauthorized
from services.common.wiring import migrate
from services.ingest.apikeys import ApiKeys
from services.ingest.settings import IngestSettings

AGENCY = "000.00.00.H41"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("LIENTHONG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LIENTHONG_BROKER_URL", "memory://")
    url = IngestSettings.from_env().database_url
    migrate("ingest", url)
    added = CliRunner().invoke(main, ["agencies", "add", AGENCY, "UBND tỉnh Nghệ An"])
    assert added.exit_code == 0, added.output
    return Database(url)


def _create(label: str = "") -> str:
    created = CliRunner().invoke(main, ["keys", "create", AGENCY, "--label", label])
    assert created.exit_code == 0, created.output
    [key] = created.stdout.splitlines()
    return key


def _works(db: Database, key: str) -> bool:
    try:
        return ApiKeys(db, ttl=0).agency_of(key) == AGENCY
    except Unauthorized:
        return False


def test_a_key_given_on_stdin_is_revoked(db: Database) -> None:
    key, other = _create(), _create()
    assert _works(db, key)
    revoked = CliRunner().invoke(main, ["keys", "revoke", "--stdin"], input=key + "\n")
    assert revoked.exit_code == 0, revoked.output
    assert not _works(db, key)
    assert _works(db, other)
    again = CliRunner().invoke(main, ["keys", "revoke", "--stdin"], input=key + "\n")
    assert again.exit_code == 1


def test_keys_are_listed_and_revoked_by_id_or_label(db: Database) -> None:
    first, second, labelled = _create("a"), _create("b"), _create("laptop")
    listed = CliRunner().invoke(main, ["keys", "list", AGENCY])
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [r[1] for r in rows] == ["a", "b", "laptop"] and all(r[3] == "active" for r in rows)
    assert first not in listed.stdout  # the keys themselves are never shown

    by_id = CliRunner().invoke(main, ["keys", "revoke", AGENCY, "--id", rows[0][0]])
    assert by_id.exit_code == 0, by_id.output
    by_label = CliRunner().invoke(main, ["keys", "revoke", AGENCY, "--label", "laptop"])
    assert by_label.exit_code == 0, by_label.output
    assert (_works(db, first), _works(db, second), _works(db, labelled)) == (False, True, False)
    assert CliRunner().invoke(main, ["keys", "revoke", AGENCY]).exit_code == 2

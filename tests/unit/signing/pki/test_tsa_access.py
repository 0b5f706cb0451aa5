"""Who may use the time-stamp authority: LIENTHONG_TSA_ACCESS."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from asn1crypto import algos, tsp

from services.common.db import Database
from services.common.errors import SettingsError
from services.signing.pki.service import PkiService, build_pki_service
from services.signing.pki.tsa import TimeStampResp
from tests.unit.signing.kit import pki_app
from tests.unit.signing.pki.conftest import settings_for

SERVICE_TOKEN = "tsa-test-service-token-0123"
AGENCY_TOKEN = "an-agency-tsa-token-0123456789"


def _query() -> bytes:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": hashlib.sha256(b"x").digest(),
            },
            "cert_req": True,
        }
    ).dump()


def _statuses(tmp_path: Path, shared_pki_dir: Path, **env: str) -> dict[str, int]:
    settings = settings_for(
        tmp_path / "data",
        shared_pki_dir,
        LIENTHONG_SERVICE_TOKEN=SERVICE_TOKEN,
        **env,
    )
    db = Database(settings.database_url)
    pki: PkiService = build_pki_service(settings, db)
    client = pki_app(settings, db, pki).test_client()
    answers = {}
    for who, token in (
        ("nobody", None),
        ("stranger", "a-token-nobody-was-given-000"),
        ("service", SERVICE_TOKEN),
        ("agency", AGENCY_TOKEN),
    ):
        headers = {"Content-Type": "application/timestamp-query"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = client.post("/pki/tsa", data=_query(), headers=headers)
        if response.status_code == 200:
            reply = TimeStampResp.load(response.data)
            assert reply["status"]["status"].native == "granted"
        answers[who] = response.status_code
    db.dispose()
    return answers


def test_the_default_is_the_service_token(tmp_path: Path, shared_pki_dir: Path) -> None:
    assert _statuses(tmp_path, shared_pki_dir) == {
        "nobody": 401,
        "stranger": 401,
        "service": 200,
        "agency": 401,
    }


def test_open(tmp_path: Path, shared_pki_dir: Path) -> None:
    statuses = _statuses(tmp_path, shared_pki_dir, LIENTHONG_TSA_ACCESS="open")
    assert set(statuses.values()) == {200}


def test_agencies(tmp_path: Path, shared_pki_dir: Path) -> None:
    statuses = _statuses(
        tmp_path,
        shared_pki_dir,
        LIENTHONG_TSA_ACCESS="agencies",
        LIENTHONG_TSA_TOKENS=f"{AGENCY_TOKEN}, another-agency-token-000000",
    )
    assert statuses == {"nobody": 401, "stranger": 401, "service": 200, "agency": 200}


@pytest.mark.parametrize(
    "env",
    [
        {"LIENTHONG_TSA_ACCESS": "everyone"},
        {"LIENTHONG_TSA_ACCESS": "agencies"},
        {"LIENTHONG_TSA_ACCESS": "agencies", "LIENTHONG_TSA_TOKENS": "short"},
    ],
)
def test_bad_settings_fail_at_start(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="TSA_"):
        settings_for(tmp_path / "data", tmp_path / "pki", **env)

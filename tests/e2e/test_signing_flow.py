"""Signing and verify-on-arrival on the real stack: RabbitMQ, PostgreSQL, SeaweedFS and
three `lienthong serve` processes, set up with the operator's commands (`pki init`,
`pki issue`, `pki images`, `sign`). Documents signed by us beforehand arrive and are
judged; a received one is signed through signing's API and becomes version 2 at ingest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from services.common.contract import Verdict
from services.signing.images import draw_seal, draw_signature
from services.signing.verification import Verifier
from testkit.infra import postgres_databases, rabbit_vhost
from testkit.official_doc import official_letter
from testkit.seaweed import SeaweedS3
from testkit.stack import CORPUS, AgencyClient, Stack, metadata_to, wait_for

pytestmark = pytest.mark.e2e

SENDER, RECIPIENT = "000.00.00.H41", "000.00.01.H41"
ORGANIZATION = "UỶ BAN NHÂN DÂN TỈNH NGHỆ AN"
LEADER = "Nguyễn Văn An"
TOKEN = "e2e-signing-service-token-0123456789"
UNSIGNED = CORPUS / "pdf-real/002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf"


@dataclass
class SigningStack:
    stack: Stack
    sender: AgencyClient
    files: dict[str, Path]  # what `lienthong sign` made beforehand
    verifier: Verifier  # ours, trusting the stack's root

    def send(self, pdf: bytes, number: str) -> str:
        sent = self.sender.send(pdf, metadata_to(RECIPIENT, number=number))
        assert sent.status_code == 201, sent.text
        return str(sent.json()["id"])

    def verification(self, doc_id: str) -> dict[str, Any]:
        """The verdict on arrival, once signing has sent it back to ingest."""

        def ready() -> dict[str, Any] | None:
            found = self.sender.document(doc_id).json().get("verification")
            return found if found else None

        return dict(wait_for(ready, timeout=60))


def _provision(stack: Stack, data: Path) -> str:
    """What an operator runs: databases, agencies, an API key, the PKI, certificates and
    appearance images. Returns the sender's API key."""
    stack.cli("migrate")
    stack.cli("agencies", "add", SENDER, "UBND tỉnh Nghệ An")
    stack.cli("agencies", "add", RECIPIENT, "Sở Nội vụ", "--parent", SENDER)
    key = stack.cli("keys", "create", SENDER).stdout.strip()
    stack.cli("pki", "init")
    stack.cli("pki", "issue", "--agency", SENDER, "--kind", "organization", "--name", ORGANIZATION)
    stack.cli(
        "pki", "issue", "--agency", SENDER, "--kind", "personal", "--name", LEADER,
        "--organization", ORGANIZATION, "--title", "Chủ tịch",
    )  # fmt: skip
    seal, signature = data / "seal.png", data / "signature.png"
    seal.write_bytes(draw_seal(ORGANIZATION, SENDER))
    signature.write_bytes(draw_signature(LEADER))
    stack.cli(
        "pki", "images", "--agency", SENDER, "--seal", str(seal),
        "--person", LEADER, "--signature", str(signature),
    )  # fmt: skip
    return key


def _sign_beforehand(stack: Stack, data: Path) -> dict[str, Path]:
    """`lienthong sign`: a certified copy (one signature), and the letter as issued
    (the leader's signature, then the seal)."""
    letter = data / "letter.pdf"
    letter.write_bytes(official_letter())
    files = {name: data / f"{name}.pdf" for name in ("copy", "personal", "sealed")}
    sign = ("sign", "--agency", SENDER, "-o")
    stack.cli(*sign, str(files["copy"]), str(letter), "--profile", "copy", "--level", "B-T")
    stack.cli(
        *sign, str(files["personal"]), str(letter), "--profile", "personal", "--person", LEADER
    )
    stack.cli(*sign, str(files["sealed"]), str(files["personal"]), "--profile", "organization")
    return files


@pytest.fixture(scope="module")
def signing_stack(
    tmp_path_factory: pytest.TempPathFactory, seaweed: SeaweedS3
) -> Iterator[SigningStack]:
    data = tmp_path_factory.mktemp("e2e-signing")
    with rabbit_vhost() as rabbit, postgres_databases() as pg:
        stack = Stack(
            data,
            {
                "LIENTHONG_BROKER_URL": rabbit.url,
                "LIENTHONG_STORAGE_URL": seaweed.url("lt-e2e-signing"),
                "LIENTHONG_INGEST_DATABASE_URL": pg["ingest"],
                "LIENTHONG_SIGNING_DATABASE_URL": pg["signing"],
                "LIENTHONG_ROUTING_DATABASE_URL": pg["routing"],
                "LIENTHONG_SERVICE_TOKEN": TOKEN,
                "LIENTHONG_PKI_PASSPHRASE": "e2e pki passphrase, long enough",
            },
        )
        try:
            key = _provision(stack, data)
            files = _sign_beforehand(stack, data)
            for service in ("ingest", "signing", "routing"):
                stack.serve(service)
            stack.wait_healthy()
            sender = AgencyClient(stack.url("ingest"), SENDER, key)
            yield SigningStack(stack, sender, files, Verifier([data / "pki" / "root.pem"]))
            # An open keep-alive connection holds `serve` up for its 10 s shutdown grace.
            sender.http.close()
            for service in ("ingest", "signing", "routing"):
                assert stack.stop(service) == 0, stack.log_tail(service)
        finally:
            stack.stop_all()


def test_verdicts_on_arrival(signing_stack: SigningStack) -> None:
    s = signing_stack
    copy = s.files["copy"].read_bytes()
    assert s.verifier.verify(copy).verdict == Verdict.VALID  # as signed by `lienthong sign`
    position = copy.index(b"841.8898") + 7
    tampered = copy[:position] + b"9" + copy[position + 1 :]
    sent = {
        "signed": s.send(copy, "101"),
        "unsigned": s.send(UNSIGNED.read_bytes(), "102"),
        "tampered": s.send(tampered, "103"),
    }
    signed = s.verification(sent["signed"])
    assert signed["verdict"] == "valid", signed
    assert signed["organization_signed"] is True
    assert signed["signature_count"] == 1
    assert any(ORGANIZATION in signer for signer in signed["signers"])
    unsigned = s.verification(sent["unsigned"])
    assert (unsigned["verdict"], unsigned["organization_signed"]) == ("unsigned", False)
    tampered_verdict = s.verification(sent["tampered"])
    assert tampered_verdict["verdict"] == "invalid"
    assert tampered_verdict["organization_signed"] is False
    assert tampered_verdict["reasons"]


def test_a_signed_and_sealed_letter_arrives_valid(signing_stack: SigningStack) -> None:
    s = signing_stack
    sealed = s.files["sealed"].read_bytes()
    report = s.verifier.verify(sealed)
    assert report.verdict == Verdict.VALID, report.reasons
    assert [sig.field_name for sig in report.signatures] == ["personal-1", "organization-2"]
    verdict = s.verification(s.send(sealed, "104"))
    assert verdict["verdict"] == "valid", verdict
    assert verdict["organization_signed"] is True
    assert verdict["signature_count"] == 2


def test_signing_a_received_document_makes_version_two(signing_stack: SigningStack) -> None:
    s = signing_stack
    original = official_letter()
    doc_id = s.send(original, "105")
    assert s.verification(doc_id)["verdict"] == "unsigned"  # signing knows the document now

    signing_url = s.stack.url("signing")
    unauthorized = requests.post(
        f"{signing_url}/v1/documents/{doc_id}/signatures",
        json={"profile": "personal", "agency": SENDER, "person": LEADER},
        timeout=60,
    )
    assert unauthorized.status_code == 401
    response = requests.post(
        f"{signing_url}/v1/documents/{doc_id}/signatures",
        json={"profile": "personal", "agency": SENDER, "person": LEADER},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert (made["version"], made["field_name"], made["level"]) == (2, "personal-1", "B-LT")
    assert made["previous_sha256"] == hashlib.sha256(original).hexdigest()

    def version_two() -> dict[str, Any] | None:
        versions = s.sender.document(doc_id).json()["versions"]
        return versions[1] if len(versions) == 2 else None

    listed = wait_for(version_two, timeout=60)
    assert (listed["version"], listed["sha256"]) == (2, made["sha256"])
    assert (listed["profile"], listed["level"]) == ("personal", "B-LT")
    assert LEADER in listed["signer"]

    latest = s.sender.content(doc_id)
    assert latest.status_code == 200
    assert hashlib.sha256(latest.content).hexdigest() == made["sha256"]
    report = s.verifier.verify(latest.content)
    assert report.verdict == Verdict.VALID, report.reasons
    assert [(sig.field_name, sig.pades_level) for sig in report.signatures] == [
        ("personal-1", "B-LT")
    ]
    first = s.sender.http.get(
        f"{s.sender.base_url}/v1/documents/{doc_id}/content", params={"version": 1}, timeout=60
    )
    assert first.status_code == 200
    assert first.content == original

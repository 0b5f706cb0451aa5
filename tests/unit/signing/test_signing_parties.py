"""Who may sign a document: its sender (every profile) or a recipient making a copy;
never a third agency, and never with a certificate of another agency. Through the
HTTP API with the service token, as the web app calls it for every user; the rule
itself in parties.py; the parties as document.received and the migration record them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from pyhanko.sign.signers import Signer

from services.common.db import alembic_config, make_engine
from services.signing.appearance import Profile
from services.signing.models import DocumentVersion, KnownDocument
from services.signing.parties import Parties, certificate_problem, may_sign
from services.signing.signing_service import KeySource, SignerIdentity
from testkit.official_doc import official_letter
from tests.unit.signing.kit import AGENCY, LEADER
from tests.unit.signing.test_signing_api import Signing, assert_problem
from tests.unit.signing.test_signing_api import signing as signing  # the module's fixture

SENDER = AGENCY  # what Signing.announce sends: from AGENCY ...
RECIPIENT = "000.00.01.H41"  # ... to this one
THIRD = "000.00.02.H41"  # a party to nothing
THIRD_PERSON = "Trần Thị Bình"

# --- the rule ---------------------------------------------------------------------------------

PARTIES = Parties("doc-1", SENDER, (RECIPIENT, "000.00.03.H41"))


@pytest.mark.parametrize("profile", list(Profile))
def test_the_sender_may_sign_with_every_profile(profile: Profile) -> None:
    assert may_sign(profile, SENDER, PARTIES) is None


@pytest.mark.parametrize(
    ("profile", "allowed"),
    [
        (Profile.COPY, True),
        (Profile.PERSONAL, False),
        (Profile.ORGANIZATION, False),
        (Profile.ATTACHMENT, False),
    ],
)
def test_a_recipient_may_only_make_a_copy(profile: Profile, allowed: bool) -> None:
    reason = may_sign(profile, RECIPIENT, PARTIES)
    assert (reason is None) is allowed
    if reason:
        assert "only make a certified copy" in reason


@pytest.mark.parametrize("profile", list(Profile))
def test_a_third_agency_may_not_sign_at_all(profile: Profile) -> None:
    reason = may_sign(profile, THIRD, PARTIES)
    assert reason and "not a party" in reason and THIRD in reason


def test_a_certificate_signs_only_for_its_own_agency() -> None:
    assert certificate_problem(SENDER, SENDER, LEADER) is None
    assert certificate_problem(SENDER, None, "key file") is None  # the CLI's own key file
    problem = certificate_problem(SENDER, THIRD, THIRD_PERSON)
    assert problem and THIRD in problem and THIRD_PERSON in problem


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(signing: Signing) -> None:
    """Organization certificates for the recipient and the third agency, and a person
    of the third agency (the sender's are provisioned by the signing fixture)."""
    pki = signing.ctx.pki
    pki.issue(agency=RECIPIENT, kind="organization", name="Sở Nội vụ tỉnh Nghệ An")
    pki.issue(agency=THIRD, kind="organization", name="Sở Tài chính tỉnh Nghệ An")
    pki.issue(
        agency=THIRD,
        kind="personal",
        name=THIRD_PERSON,
        organization="Sở Tài chính tỉnh Nghệ An",
        title="Giám đốc",
    )


@pytest.fixture
def letter(signing: Signing, certificates: None) -> Iterator[str]:
    yield signing.receive(official_letter())


def versions(signing: Signing, document: str) -> list[DocumentVersion]:
    with signing.ctx.db.reading() as session:
        query = sa.select(DocumentVersion).where(DocumentVersion.document == document)
        return list(session.scalars(query))


def refused(signing: Signing, document: str, body: dict[str, Any], status: int = 403) -> str:
    before = len(signing.outbox("document.signed"))
    problem = assert_problem(signing.sign(document, body), status)
    assert versions(signing, document) == []  # nothing signed ...
    assert len(signing.outbox("document.signed")) == before  # ... nothing announced
    return str(problem["detail"])


def test_arrival_records_the_parties(signing: Signing, letter: str) -> None:
    with signing.ctx.db.reading() as session:
        known = session.get(KnownDocument, letter)
    assert known is not None
    assert (known.sender_code, known.recipients) == (SENDER, [RECIPIENT])


def test_a_third_agency_cannot_copy_a_document_it_is_no_party_to(
    signing: Signing, letter: str
) -> None:
    detail = refused(signing, letter, {"profile": "copy", "agency": THIRD})
    assert "not a party" in detail
    problem = signing.sign(letter, {"profile": "organization", "agency": THIRD}).get_json()
    assert problem["code"] == "not_a_party"


def test_the_recipient_may_copy_what_it_received_and_nothing_more(
    signing: Signing, letter: str
) -> None:
    for profile in ("personal", "organization", "attachment"):
        refused(signing, letter, {"profile": profile, "agency": RECIPIENT, "person": LEADER})
    copy = signing.sign(letter, {"profile": "copy", "agency": RECIPIENT, "level": "B-B"})
    assert copy.status_code == 201, copy.get_data(as_text=True)
    assert copy.get_json()["signer"].startswith("CN=Sở Nội vụ")


def test_the_sender_signs_seals_and_copies_its_own_document(signing: Signing, letter: str) -> None:
    for body in (
        {"profile": "personal", "agency": SENDER, "person": LEADER},
        {"profile": "organization", "agency": SENDER},
        {"profile": "copy", "agency": SENDER},
    ):
        answer = signing.sign(letter, {**body, "level": "B-B"})
        assert answer.status_code == 201, answer.get_data(as_text=True)
    assert [v.version for v in versions(signing, letter)] == [2, 3, 4]


def test_a_person_of_another_agency_cannot_sign_the_senders_document(
    signing: Signing, letter: str
) -> None:
    # As their own agency: not a party.
    refused(signing, letter, {"profile": "personal", "agency": THIRD, "person": THIRD_PERSON})
    # As the sender: the sender has no certificate for them (the PKI looks within it).
    detail = refused(
        signing, letter, {"profile": "personal", "agency": SENDER, "person": THIRD_PERSON}, 404
    )
    assert THIRD_PERSON in detail


class ForeignKeys:
    """A key source that hands out a certificate of another agency (a misconfigured
    token, a key store mix-up): signing must not use it for the sender."""

    def __init__(self, inner: KeySource) -> None:
        self.inner = inner

    def signer(self, agency: str, kind: str, name: str | None) -> tuple[Signer, SignerIdentity]:
        signer, identity = self.inner.signer(agency, kind, name)
        return signer, replace(identity, agency=THIRD)


def test_a_certificate_of_another_agency_is_refused(
    signing: Signing, letter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing.ctx.signing, "keys", ForeignKeys(signing.ctx.signing.keys))
    detail = refused(signing, letter, {"profile": "personal", "agency": SENDER, "person": LEADER})
    assert f"belongs to agency {THIRD}" in detail


def test_a_document_signing_has_not_heard_of_is_404_with_the_reason(signing: Signing) -> None:
    detail = refused(signing, str(uuid.uuid4()), {"profile": "copy", "agency": SENDER}, 404)
    assert "has not reached signing yet" in detail


# --- the migration --------------------------------------------------------------------------------


def test_the_migration_fills_in_the_recipients_of_documents_already_known(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'signing.sqlite3'}"
    config = alembic_config(url, Path("services/signing/migrations").resolve(), "signing")
    command.upgrade(config, "0002")
    engine = make_engine(url)
    metadata = {"To": [{"OrganId": RECIPIENT}, {"OrganId": " 000.00.03.H41 "}, {"x": 1}]}
    documents = sa.table(
        "documents",
        sa.column("id"),
        sa.column("document_id"),
        sa.column("sender_code"),
        sa.column("sha256"),
        sa.column("size"),
        sa.column("metadata", sa.JSON()),
        sa.column("received_at", sa.DateTime(timezone=True)),
    )
    with engine.begin() as connection:
        for doc_id, meta in (("a", metadata), ("b", {})):
            connection.execute(
                documents.insert().values(
                    id=doc_id,
                    document_id=f"{SENDER},2026/11/21,1/UBND",
                    sender_code=SENDER,
                    sha256="ab" * 32,
                    size=1,
                    metadata=meta,
                    received_at=datetime.now(UTC),
                )
            )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        found = connection.execute(sa.text("SELECT id, recipients FROM documents")).all()
        rows: dict[str, str] = {row[0]: row[1] for row in found}
    engine.dispose()
    assert rows == {"a": f'["{RECIPIENT}", "000.00.03.H41"]', "b": "[]"}

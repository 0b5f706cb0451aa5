"""Hostile PDFs against ingest, verification and signing, each on its budget: a 4xx or a
clean verdict within LIENTHONG_PDF_TIMEOUT_SECONDS + 1 s, nothing stored on a refusal,
and a normal document still goes through meanwhile. Signing's own stack (with a PKI) is
``signing_abuse``; the bombs sent to signing come last in this module, since without
budgets the work they start never ends."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from testkit.hostile import (
    GRACE_SECONDS,
    PDF_TIMEOUT_SECONDS,
    PLAIN_BUDGET_SECONDS,
    content_bomb_pdf,
    empty_updates,
    hostile_pdfs,
)
from testkit.official_doc import official_letter
from testkit.stack import metadata_to

from .conftest import LEADER, OUTSIDER, RECIPIENT, SENDER, AbuseStack, no_server_error

pytestmark = pytest.mark.abuse
NEEDS_PKI = True

PDF_BUDGET = PDF_TIMEOUT_SECONDS + GRACE_SECONDS
CLEAN_VERDICTS = {"valid", "invalid", "indeterminate", "unsigned", "unreadable"}
HOSTILE = hostile_pdfs()
REVISIONS = 2_500


def _send(abuse: AbuseStack, pdf: bytes, sender: str = SENDER) -> requests.Response:
    meta = metadata_to(RECIPIENT, number=abuse.next_number())
    started = time.monotonic()
    response = abuse.clients[sender].send(pdf, meta)
    assert time.monotonic() - started < PDF_BUDGET, "ingest took longer than its PDF budget"
    return no_server_error(response)


def _verify(abuse: AbuseStack, pdf: bytes, timeout: float = PDF_BUDGET) -> requests.Response:
    headers = {**abuse.service_headers, "Content-Type": "application/pdf"}
    started = time.monotonic()
    response = requests.post(
        f"{abuse.url('signing')}/v1/verify", data=pdf, headers=headers, timeout=timeout
    )
    assert time.monotonic() - started < timeout
    return no_server_error(response)


def _sign(
    abuse: AbuseStack, doc_id: str, body: dict[str, Any], timeout: float = PDF_BUDGET
) -> requests.Response:
    started = time.monotonic()
    response = requests.post(
        f"{abuse.url('signing')}/v1/documents/{doc_id}/signatures",
        json=body,
        headers=abuse.service_headers,
        timeout=timeout,
    )
    assert time.monotonic() - started < timeout
    return no_server_error(response)


def _signed_letter(abuse: AbuseStack) -> bytes:
    data: Path = abuse.stack.data_dir
    letter, signed = data / "letter.pdf", data / "letter-signed.pdf"
    if not signed.exists():
        letter.write_bytes(official_letter())
        abuse.stack.cli(
            "sign", "--agency", SENDER, "-o", str(signed), str(letter),
            "--profile", "copy", "--level", "B-B",
        )  # fmt: skip
    return signed.read_bytes()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_pdf_at_ingest_is_refused_or_judged_cleanly(
    signing_abuse: AbuseStack, name: str
) -> None:
    """Refused (4xx, nothing stored) or accepted with its true page count and judged on
    arrival with a clean verdict; a normal document sent right after it arrives and is
    judged in its usual time."""
    abuse = signing_abuse
    before = abuse.settled()
    response = _send(abuse, HOSTILE[name])
    if response.status_code != 201:
        assert 400 <= response.status_code < 500
        assert abuse.stored() == before
    else:
        assert response.json()["page_count"] == 1, "a page count must be counted, not trusted"
    normal = abuse.send_normal()
    abuse.arrives(normal, timeout=PLAIN_BUDGET_SECONDS)
    assert abuse.verdict(normal, timeout=PLAIN_BUDGET_SECONDS)["verdict"] == "unsigned"
    if response.status_code == 201:
        verdict = abuse.verdict(response.json()["id"], timeout=PDF_BUDGET)
        assert verdict["verdict"] in CLEAN_VERDICTS


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_verifying_a_hostile_pdf_is_a_clean_verdict_in_time(
    signing_abuse: AbuseStack, name: str
) -> None:
    response = _verify(signing_abuse, HOSTILE[name])
    if response.status_code == 200:
        report = response.json()
        assert report["verdict"] in CLEAN_VERDICTS, report
        if report["verdict"] in ("indeterminate", "unreadable"):
            assert report.get("reasons"), report
    else:
        assert 400 <= response.status_code < 500


def test_thousands_of_revisions_are_judged_in_time_and_delay_no_one(
    signing_abuse: AbuseStack,
) -> None:
    """2,500 empty updates on a signed PDF: a verdict within the budget (over
    LIENTHONG_PDF_MAX_REVISIONS: indeterminate, with the reason), while a normal
    verification and a normal verify-on-arrival do not wait for it."""
    abuse = signing_abuse
    signed = _signed_letter(abuse)
    revised = empty_updates(signed, REVISIONS)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow = [pool.submit(_verify, abuse, revised) for _ in range(2)]
        time.sleep(0.5)
        started = time.monotonic()
        normal = _verify(abuse, signed, timeout=PLAIN_BUDGET_SECONDS)
        assert normal.status_code == 200
        assert time.monotonic() - started < PLAIN_BUDGET_SECONDS
        arrived = abuse.send_normal()
        assert abuse.verdict(arrived, timeout=PLAIN_BUDGET_SECONDS)["verdict"] == "unsigned"
        for future in slow:
            response = future.result()
            assert response.status_code == 200, response.text[:300]
            report = response.json()
            assert report["verdict"] in CLEAN_VERDICTS
            if report["verdict"] != "valid":
                assert report.get("reasons"), report


def test_a_revision_bomb_on_arrival_delays_no_one(signing_abuse: AbuseStack) -> None:
    abuse = signing_abuse
    revised = empty_updates(_signed_letter(abuse), REVISIONS)
    bombs = [_send(abuse, revised) for _ in range(2)]
    normal = abuse.send_normal()
    assert abuse.verdict(normal, timeout=PLAIN_BUDGET_SECONDS)["verdict"] == "unsigned"
    for sent in bombs:
        if sent.status_code == 201:
            verdict = abuse.verdict(sent.json()["id"], timeout=2 * PDF_BUDGET)
            assert verdict["verdict"] in CLEAN_VERDICTS


def _arrived(abuse: AbuseStack, pdf: bytes, sender: str = SENDER) -> str | None:
    """Sent and known to signing (its verdict is in); None if ingest refused it."""
    sent = _send(abuse, pdf, sender)
    if sent.status_code != 201:
        assert 400 <= sent.status_code < 500
        return None
    doc_id = str(sent.json()["id"])
    abuse.verdict(doc_id, timeout=PDF_BUDGET, sender=sender)
    return doc_id


def test_only_a_party_signs_a_document(signing_abuse: AbuseStack) -> None:
    """A copy signature by an agency that neither sent nor received the document is
    refused, and the recipient is still served the original; so is a personal
    signature by the sender on a document it did not send."""
    abuse = signing_abuse
    original = official_letter()
    doc_id = _arrived(abuse, original)
    assert doc_id is not None
    foreign = _sign(abuse, doc_id, {"profile": "copy", "agency": OUTSIDER, "level": "B-B"})
    assert foreign.status_code in (403, 422), foreign.text[:300]
    content = abuse.clients[RECIPIENT].content(doc_id)
    assert content.status_code == 200 and content.content == original
    theirs = _arrived(abuse, original, sender=OUTSIDER)
    assert theirs is not None
    personal = {"profile": "personal", "agency": SENDER, "person": LEADER, "level": "B-B"}
    assert _sign(abuse, theirs, personal).status_code in (403, 422)


@pytest.mark.parametrize(
    "extra",
    [
        {"page": True},
        {"page": 99999999999999999999, "box": [0, 0, 10, 10]},
        {"page": 1, "box": [0, 0, 1e308, 1e308]},
        {"page": 1, "box": [0, 0, True, 10]},
    ],
    ids=["page-true", "page-huge", "box-huge", "box-bool"],
)
def test_sign_options_out_of_range_are_a_4xx(
    signing_abuse: AbuseStack, extra: dict[str, Any]
) -> None:
    doc_id = _arrived(signing_abuse, official_letter())
    assert doc_id is not None
    body = {"profile": "copy", "agency": SENDER, "level": "B-B", **extra}
    response = _sign(signing_abuse, doc_id, body)
    assert 400 <= response.status_code < 500, response.text[:300]


def test_the_time_stamp_authority_is_not_open_to_anyone(signing_abuse: AbuseStack) -> None:
    """LIENTHONG_TSA_ACCESS=token: a request without the service token is refused."""
    response = no_server_error(
        requests.post(
            f"{signing_abuse.url('signing')}/pki/tsa",
            data=b"0\x00",
            headers={"Content-Type": "application/timestamp-query"},
            timeout=PLAIN_BUDGET_SECONDS,
        )
    )
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("profile", ["personal", "copy", "attachment"])
def test_signing_a_content_bomb_answers_within_its_budget(
    signing_abuse: AbuseStack, profile: str
) -> None:
    """A page whose content inflates to 1 GiB: placing the signature box is PDF work on
    a budget, so the answer is a 4xx in time (or, if ingest refused the bomb, there is
    nothing to sign); meanwhile a normal verification answers in its usual time."""
    abuse = signing_abuse
    doc_id = _arrived(abuse, content_bomb_pdf())
    if doc_id is None:
        return
    body: dict[str, Any] = {"profile": profile, "agency": SENDER, "level": "B-B"}
    if profile == "personal":
        body["person"] = LEADER
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        bomb = pool.submit(_sign, abuse, doc_id, body)
        time.sleep(0.5)
        started = time.monotonic()
        normal = _verify(abuse, official_letter(), timeout=PLAIN_BUDGET_SECONDS)
        assert normal.status_code == 200
        assert time.monotonic() - started < PLAIN_BUDGET_SECONDS
        response = bomb.result()
    assert response.status_code in (413, 422), response.text[:300]
    versions = abuse.sender.document(doc_id).json()["versions"]
    assert len(versions) <= 1, "a refused signature must not make a version"

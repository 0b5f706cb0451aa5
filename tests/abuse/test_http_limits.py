"""Hostile HTTP on ingest, over raw sockets: sizes that lie or are too large, two framings
at once, bodies that stall, headers that never end. Each gets a 4xx (never a 5xx) in
time, the body is not read when the answer is already known, and nothing is stored."""

from __future__ import annotations

import threading
import time

import psutil
import pytest

from testkit.hostile import (
    GRACE_SECONDS,
    PLAIN_BUDGET_SECONDS,
    MiB,
    multipart,
    raw_exchange,
    request_head,
    stalled_connection,
)
from testkit.pdfs import one_page_pdf
from testkit.stack import metadata_to, wait_for

from .conftest import RECIPIENT, AbuseStack

pytestmark = pytest.mark.abuse

PATH = "/v1/documents"
OVERSIZE = 150 * MiB  # over the default upload limit (LIENTHONG_MAX_UPLOAD_BYTES, 100 MiB)
READ_BEFORE_ANSWER = 32 * MiB  # what the client may push into socket buffers meanwhile
WRITTEN_ALLOWANCE = 8 * MiB  # what ingest may write (logs, its own databases) meanwhile


def _key(abuse: AbuseStack) -> str:
    return str(abuse.sender.http.headers["Authorization"])


def _document_body(abuse: AbuseStack) -> tuple[bytes, str]:
    import json

    meta = json.dumps(metadata_to(RECIPIENT, number=abuse.next_number())).encode()
    return multipart(
        [("metadata", None, meta, None), ("file", "doc.pdf", one_page_pdf(), "application/pdf")]
    )


def _written_by(pid: int) -> int:
    return int(psutil.Process(pid).io_counters().write_chars)


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "key"])
def test_an_oversize_body_is_refused_before_it_is_read(abuse: AbuseStack, with_key: bool) -> None:
    """150 MiB declared: the answer (401 without a key, 413 over the limit) comes from the
    head alone; the body is neither read to the end nor written to disk."""
    before = abuse.settled()
    ingest_pid = abuse.stack.processes["ingest"].pid
    written = _written_by(ingest_pid)
    headers = {
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(OVERSIZE),
        **({"Authorization": _key(abuse)} if with_key else {}),
    }
    answer = raw_exchange(
        abuse.port("ingest"),
        request_head("POST", PATH, "127.0.0.1", headers),
        body_size=OVERSIZE,
        budget=PLAIN_BUDGET_SECONDS + GRACE_SECONDS,
    )
    assert answer.status in ((401, 413) if not with_key else (413,)), answer
    assert answer.body_bytes_sent < READ_BEFORE_ANSWER, answer
    assert _written_by(ingest_pid) - written < WRITTEN_ALLOWANCE
    assert abuse.stored() == before


@pytest.mark.parametrize(
    "length",
    ["99999999999999999999999", "-1", "abc", "10, 20", "0x10", " 1e9"],
)
def test_a_content_length_that_is_not_a_size_is_refused(abuse: AbuseStack, length: str) -> None:
    before = abuse.settled()
    headers = {
        "Authorization": _key(abuse),
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": length,
    }
    answer = raw_exchange(
        abuse.port("ingest"),
        request_head("POST", PATH, "127.0.0.1", headers),
        body=b"--x--\r\n",
        budget=PLAIN_BUDGET_SECONDS + GRACE_SECONDS,
    )
    assert answer.status is not None and 400 <= answer.status < 500, answer
    assert abuse.stored() == before


def test_a_body_that_is_shorter_than_declared_is_not_stored(abuse: AbuseStack) -> None:
    """A complete document, but Content-Length says 1 MiB more: the server waits for the
    rest, the client gives up, nothing is kept (nor left in the spool)."""
    body, ctype = _document_body(abuse)
    before = abuse.settled()
    headers = {
        "Authorization": _key(abuse),
        "Content-Type": ctype,
        "Content-Length": str(len(body) + MiB),
    }
    answer = raw_exchange(
        abuse.port("ingest"),
        request_head("POST", PATH, "127.0.0.1", headers),
        body=body,
        budget=2.0,
    )
    assert answer.status is None or 400 <= answer.status < 500, answer
    time.sleep(0.5)
    assert abuse.stored() == before


def test_both_chunked_and_content_length_are_refused(abuse: AbuseStack) -> None:
    """Two framings in one request (request smuggling): 400, and nothing stored."""
    body, ctype = _document_body(abuse)
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    before = abuse.settled()
    headers = [
        ("Authorization", _key(abuse)),
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("Transfer-Encoding", "chunked"),
    ]
    answer = raw_exchange(
        abuse.port("ingest"),
        request_head("POST", PATH, "127.0.0.1", headers),
        body=chunked,
        budget=PLAIN_BUDGET_SECONDS + GRACE_SECONDS,
    )
    assert answer.status is not None and 400 <= answer.status < 500, answer
    assert abuse.stored() == before


@pytest.mark.parametrize("where", ["one-header", "many-headers", "request-line"])
def test_headers_that_never_end_are_refused(abuse: AbuseStack, where: str) -> None:
    if where == "one-header":
        head = request_head("GET", "/v1/inbox", "127.0.0.1", {"X-Pad": "a" * (2 * MiB)})
    elif where == "many-headers":
        head = request_head(
            "GET", "/v1/inbox", "127.0.0.1", [(f"X-Pad-{i}", "a" * 100) for i in range(20_000)]
        )
    else:
        head = request_head("GET", "/v1/inbox?" + "a" * (2 * MiB), "127.0.0.1", {})
    answer = raw_exchange(abuse.port("ingest"), head, budget=PLAIN_BUDGET_SECONDS + GRACE_SECONDS)
    # Refused (4xx) or cut off (the connection closed): never served, never a 5xx.
    assert answer.status is None or 400 <= answer.status < 500, answer
    assert answer.seconds < PLAIN_BUDGET_SECONDS + GRACE_SECONDS


def test_stalled_uploads_do_not_hold_up_a_normal_document(abuse: AbuseStack) -> None:
    """Forty connections (five times ingest's HTTP threads) send a head and a little of
    their body, then stall; some with a key, some without, some in the head itself. A
    normal document is accepted and arrives meanwhile, in its usual time; once they
    give up, nothing of theirs is kept."""
    before = abuse.settled()
    port = abuse.port("ingest")
    key = _key(abuse)
    stalled = []
    for i in range(40):
        if i % 4 == 3:  # a head that never ends (slow loris)
            stalled.append(stalled_connection(port, b"POST /v1/documents HTTP/1.1\r\nHost: x\r\n"))
            continue
        headers = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(MiB)}
        if i % 2 == 0:
            headers["Authorization"] = key
        head = request_head("POST", PATH, "127.0.0.1", headers)
        stalled.append(stalled_connection(port, head, b"--x\r\n" + b"a" * 1024))
    try:
        started = time.monotonic()
        doc_id = abuse.send_normal()
        assert time.monotonic() - started < PLAIN_BUDGET_SECONDS
        abuse.arrives(doc_id, timeout=PLAIN_BUDGET_SECONDS)
    finally:
        for conn in stalled:
            conn.close()
    # The server drops a stalled upload's spool file when it notices the client left;
    # under load that takes a moment, so wait for it rather than sleep a fixed time.
    after = wait_for(lambda: (s := abuse.stored())["spool"] == 0 and s, timeout=30.0)
    assert after["ingest.documents"] == before["ingest.documents"] + 1
    assert after["spool"] == 0


def test_many_refusals_at_once_get_4xx(abuse: AbuseStack) -> None:
    """Eight clients at once, each declaring 150 MiB without a key: every one refused."""
    answers: list[int | None] = []
    lock = threading.Lock()

    def attack() -> None:
        head = request_head(
            "POST",
            PATH,
            "127.0.0.1",
            {"Content-Type": "application/pdf", "Content-Length": str(OVERSIZE)},
        )
        got = raw_exchange(
            abuse.port("ingest"), head, body_size=OVERSIZE, budget=PLAIN_BUDGET_SECONDS
        )
        with lock:
            answers.append(got.status)

    before = abuse.settled()
    threads = [threading.Thread(target=attack) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=PLAIN_BUDGET_SECONDS + 5)
    assert len(answers) == 8
    assert all(a in (401, 413) for a in answers), answers
    assert abuse.stored() == before

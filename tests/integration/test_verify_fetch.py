"""Revocation data fetched over HTTP from a CRL server on 127.0.0.1, and B-LT documents
that verify with that server down."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.common.contract import Verdict
from services.signing.verification import Verifier
from tests.unit.signing.verification import helpers as h
from tests.unit.signing.verification.helpers import NOW, ThrowawayPki


class CrlServer:
    def __init__(self) -> None:
        self.body = b""
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/root.crl"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def crl_server() -> Iterator[CrlServer]:
    server = CrlServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pki_module() -> ThrowawayPki:
    return ThrowawayPki()


def test_a_fetched_crl_revoking_the_signer_makes_it_invalid(
    pki_module: ThrowawayPki, crl_server: CrlServer
) -> None:
    pki = pki_module
    victim = pki.issue("Fetched Revoked", crl_url=crl_server.url)
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True, who=victim)
    crl_server.body = pki.crl([(victim.cert, NOW - timedelta(hours=1))]).dump()

    offline = Verifier([pki.root.pem], allow_fetching=False).verify(signed)
    assert crl_server.hits == 0
    assert offline.verdict == Verdict.VALID  # soft-fail: nothing known offline
    assert offline.signatures[0].revocation[0].status == "unknown"

    online = Verifier([pki.root.pem], allow_fetching=True).verify(signed)
    assert crl_server.hits >= 1
    assert online.verdict == Verdict.INVALID, online.reasons
    first = online.signatures[0].revocation[0]
    assert (first.status, first.source, first.kind) == ("revoked", "fetched", "crl")


def test_b_lt_verifies_with_the_revocation_server_down(
    pki_module: ThrowawayPki, crl_server: CrlServer
) -> None:
    pki = pki_module
    signer = pki.issue("Long Term", crl_url=crl_server.url)
    signed = h.sign(h.minimal_pdf(), pki, timestamp=True, who=signer)
    b_lt = h.add_dss(signed, pki, [pki.crl()], extra=[signer])
    crl_server.stop()  # the endpoint is down from here on

    report = Verifier([pki.root.pem], allow_fetching=True, fetch_timeout=2).verify(b_lt)
    assert report.verdict == Verdict.VALID, report.reasons
    sig = report.signatures[0]
    assert sig.pades_level == "B-LT"
    assert (sig.revocation[0].status, sig.revocation[0].source) == ("good", "dss")

"""Where a webhook may connect: every non-public address refused at registration and at
send time, in every numeric form a resolver accepts and behind a host name; the
connection goes only to the address that was checked (DNS rebinding); private
networks only when the deployment lists them."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from services.common.errors import SettingsError, ValidationFailed
from services.ingest.models import Webhook
from services.ingest.settings import IngestSettings, WebhookSettings
from services.ingest.webhooks import network
from services.ingest.webhooks.addresses import parse_ipv4_numeric, parse_networks
from services.ingest.webhooks.http import HttpTransport
from services.ingest.webhooks.network import AddressGuard
from services.ingest.webhooks.store import check_reachable_url
from tests.unit.ingest.test_webhooks_kit import RECIPIENT, make_ingest

# Each one passed the check at registration before (and most of them at send time too).
NON_PUBLIC = [
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "100.100.100.200",  # Alibaba Cloud metadata
    "fd00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fc00::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "::a00:1",  # IPv4-compatible
    "169.254.169.254",
    "fe80::1",
    "255.255.255.255",
    "224.0.0.1",
    "ff02::1",
    "192.0.2.10",  # documentation
    "2001:db8::1",
    "198.18.0.1",  # benchmarking
    "240.0.0.1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]
LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "0.0.0.0", "::"]
# 169.254.169.254 (and a loopback) in the forms inet_aton, and so getaddrinfo, accepts.
NUMERIC_FORMS = [
    "2852039166",
    "0xa9fea9fe",
    "0XA9FEA9FE",
    "0251.0376.0251.0376",
    "0xa9.0xfe.0xa9.0xfe",
    "169.254.43518",
    "169.16689662",
    "169.254.169.254.",
    "0x0a000001",  # 10.0.0.1
    "012.0.0.1",  # 10.0.0.1 in octal
    "167772161",  # 10.0.0.1
    "100.100.100.200.",
]
PUBLIC = "14.225.0.10"


def url_for(address: str, port: int | None = None) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}{f':{port}' if port else ''}/hook"


def resolver(table: dict[str, Sequence[str]]) -> Callable[[str], Sequence[str]]:
    def resolve(host: str) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def strict(resolve: Callable[[str], Sequence[str]] | None = None, **kw: Any) -> AddressGuard:
    return AddressGuard(allow_loopback=False, resolve=resolve or resolver({}), **kw)


# --- numeric hosts ------------------------------------------------------------------------


@pytest.mark.parametrize("host", NUMERIC_FORMS)
def test_numeric_forms_parse_like_inet_aton(host: str) -> None:
    parsed = parse_ipv4_numeric(host)
    try:
        expected = socket.inet_aton(host.rstrip("."))  # the C library's reading
    except OSError:
        pytest.skip("this platform's inet_aton is stricter")
    assert parsed is not None and parsed.packed == expected


@pytest.mark.parametrize("host", ["vanban.gov.vn", "1.2.3.4.5x", "0x", "a1"])
def test_names_are_not_numbers(host: str) -> None:
    assert parse_ipv4_numeric(host) is None or host == "0x"


@pytest.mark.parametrize(
    "host", ["256.1.1.1", "1.2.3.4.5", "0x1.0x100.1.1", "08.1.1.1", "4294967296"]
)
def test_a_number_that_is_no_address_is_refused(host: str) -> None:
    with pytest.raises(ValidationFailed, match="not a valid IPv4"):
        check_reachable_url(url_for(host), strict())


# --- at registration ----------------------------------------------------------------------


@pytest.mark.parametrize("address", NON_PUBLIC + NUMERIC_FORMS)
def test_a_non_public_address_is_refused_at_registration(address: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_reachable_url(url_for(address), AddressGuard(allow_loopback=True))
    assert caught.value.errors[0]["field"] == "url"


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_a_name_resolving_to_a_non_public_address_is_refused_at_registration(
    address: str,
) -> None:
    guard = strict(resolver({"hook.example.vn": [PUBLIC, address]}))  # one bad record is enough
    with pytest.raises(ValidationFailed, match=r"hook\.example\.vn resolves to"):
        check_reachable_url("https://hook.example.vn/x", guard)


@pytest.mark.parametrize("address", [*LOOPBACK, "0x7f000001", "2130706433", "0177.1"])
def test_loopback_in_any_form_only_when_allowed(address: str) -> None:
    with pytest.raises(ValidationFailed, match="LIENTHONG_WEBHOOK_ALLOW_LOOPBACK"):
        check_reachable_url(url_for(address), strict())
    assert check_reachable_url(url_for(address), AddressGuard(allow_loopback=True))


def test_a_public_host_is_accepted_and_an_unknown_name_refused() -> None:
    guard = strict(resolver({"hook.example.vn": [PUBLIC, "2402:800:20ff::10"]}))
    assert check_reachable_url("https://hook.example.vn/x", guard) == "https://hook.example.vn/x"
    assert check_reachable_url(url_for("8.8.8.8"), guard)
    assert check_reachable_url(url_for("2606:4700::1111"), guard)
    assert check_reachable_url(url_for("64:ff9b::808:808"), guard)  # NAT64 of a public one
    with pytest.raises(ValidationFailed, match="does not resolve"):
        check_reachable_url("https://typo.example.vn/x", guard)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://0xa9fea9fe/hook",
        "http://[fd00:ec2::254]/hook",
        "http://[/hook",  # urlsplit's ValueError was a 500
        "http://[zz]/hook",
    ],
)
def test_the_api_answers_422_and_stores_nothing(tmp_path: Path, url: str) -> None:
    ingest = make_ingest(tmp_path)
    try:
        answer = ingest.client.put("/v1/webhook", json={"url": url}, headers=ingest.auth(RECIPIENT))
        assert answer.status_code == 422, answer.get_data(as_text=True)
        assert answer.get_json()["errors"][0]["field"] == "url"
        with ingest.ctx.db.reading() as session:
            assert session.get(Webhook, RECIPIENT) is None
    finally:
        ingest.ctx.db.dispose()


# --- allow-listed networks ----------------------------------------------------------------


def test_an_allow_listed_private_network_is_reachable_and_no_other() -> None:
    guard = strict(
        resolver({"hook.internal": ["10.20.1.5"], "other.internal": ["192.168.1.1"]}),
        allow_networks=parse_networks("10.20.0.0/16, fd12:3456::/48"),
    )
    assert check_reachable_url("http://hook.internal/x", guard)
    assert check_reachable_url(url_for("10.20.99.1"), guard)
    assert check_reachable_url(url_for("fd12:3456::9"), guard)
    assert check_reachable_url(url_for("::ffff:10.20.0.1"), guard)
    for refused in ("http://other.internal/x", url_for("10.21.0.1"), url_for("fd00::1")):
        with pytest.raises(ValidationFailed, match="LIENTHONG_WEBHOOK_ALLOW_NETWORKS"):
            check_reachable_url(refused, guard)


def test_link_local_and_multicast_cannot_be_allow_listed() -> None:
    guard = strict(allow_networks=parse_networks("169.254.0.0/16, 224.0.0.0/4, fe80::/10"))
    for address in ("169.254.169.254", "224.0.0.1", "fe80::1"):
        with pytest.raises(ValidationFailed):
            check_reachable_url(url_for(address), guard)


def test_the_allow_list_setting(base_env: dict[str, str], tmp_path: Path) -> None:
    assert IngestSettings.from_env(base_env).webhook.allow_networks == ()  # none by default
    env = {**base_env, "LIENTHONG_WEBHOOK_ALLOW_NETWORKS": " 10.20.0.0/16 , fd12:3456::/48,"}
    assert IngestSettings.from_env(env).webhook.allow_networks == (
        ipaddress.ip_network("10.20.0.0/16"),
        ipaddress.ip_network("fd12:3456::/48"),
    )
    for bad in ("10.0.0.0/33", "intranet", "10.0.0.0/8;"):
        with pytest.raises(SettingsError, match="LIENTHONG_WEBHOOK_ALLOW_NETWORKS"):
            IngestSettings.from_env({**base_env, "LIENTHONG_WEBHOOK_ALLOW_NETWORKS": bad})

    ingest = make_ingest(tmp_path, LIENTHONG_WEBHOOK_ALLOW_NETWORKS="10.0.0.0/8")
    try:
        answer = ingest.client.put(
            "/v1/webhook", json={"url": "http://10.1.2.3:8080/hook"}, headers=ingest.auth(RECIPIENT)
        )
        assert answer.status_code == 201, answer.get_data(as_text=True)
    finally:
        ingest.ctx.db.dispose()


# --- at send time -------------------------------------------------------------------------


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every address a webhook connection is opened to; none is actually opened."""
    opened: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        opened.append(address)
        raise ConnectionRefusedError("not in tests")

    monkeypatch.setattr(network, "create_connection", connect)
    return opened


def transport(guard: AddressGuard) -> HttpTransport:
    return HttpTransport(WebhookSettings(allow_loopback=False, connect_timeout=0.5), guard)


@pytest.mark.parametrize("address", NON_PUBLIC + NUMERIC_FORMS + LOOPBACK)
def test_a_non_public_address_is_refused_at_send_time_without_connecting(
    address: str, connections: list[tuple[str, int]]
) -> None:
    for url, guard in [
        (url_for(address), strict()),  # stored before this check existed
        ("http://hook.example.vn/x", strict(resolver({"hook.example.vn": [address]}))),
    ]:
        outcome = transport(guard)(url, b"{}", {})
        assert not outcome.delivered and not outcome.retry  # permanent: the push is dead
        assert outcome.error and outcome.error.startswith("refused:")
    assert connections == []


def test_the_connection_goes_to_the_checked_address(connections: list[tuple[str, int]]) -> None:
    outcome = transport(strict(resolver({"hook.example.vn": [PUBLIC]})))(
        "https://hook.example.vn:8443/x", b"{}", {}
    )
    assert outcome.retry and not outcome.delivered  # nothing listens: retried
    assert connections == [(PUBLIC, 8443)]


class Receiver(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.seen.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[int]:
    Receiver.seen = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_allow_listed_network_receives_pushes_under_its_name(receiver: int) -> None:
    guard = strict(
        resolver({"hooks.internal": ["127.0.0.1"]}), allow_networks=parse_networks("127.0.0.0/8")
    )
    outcome = transport(guard)(f"http://hooks.internal:{receiver}/hook", b"{}", {})
    assert outcome.delivered, outcome.error
    assert Receiver.seen[0]["Host"] == f"hooks.internal:{receiver}"  # the name, not the IP


def test_dns_rebinding_cannot_move_the_connection(
    receiver: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is public when checked and this host when connecting: the connection
    must still go to the public address (here: nothing listens there), never to the
    receiver on 127.0.0.1."""
    answers = iter([PUBLIC] + ["127.0.0.1"] * 10)
    real = socket.getaddrinfo

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.example.vn":
            return real(host, *args, **kwargs)
        address = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    opened: list[tuple[str, int]] = []

    def connect(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        opened.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError("not in tests")
        return real_connect(address, *args, **kwargs)  # type: ignore[arg-type]

    real_connect = network.create_connection
    monkeypatch.setattr(network, "create_connection", connect)
    outcome = HttpTransport(WebhookSettings(allow_loopback=False, connect_timeout=0.5))(
        f"http://rebind.example.vn:{receiver}/hook", b"{}", {}
    )
    assert not outcome.delivered
    assert Receiver.seen == []
    assert opened == [(PUBLIC, receiver)]

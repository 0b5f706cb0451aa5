"""Property tests of the webhook URL and address rules: every way of writing an IPv4
address reads as the C library reads it; a URL is either accepted or refused with a
422, never anything else; an address and its IPv6 wrappings get the same verdict."""

from __future__ import annotations

import ipaddress
import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.errors import ValidationFailed
from services.ingest.webhooks.addresses import address_problem, parse_ipv4_numeric
from services.ingest.webhooks.rules import check_webhook_url


def _write(value: int, style: str) -> str:
    if style == "hex":
        return hex(value)
    if style == "octal":
        return "0" + format(value, "o") if value else "0"
    return str(value)


@st.composite
def numeric_hosts(draw: st.DrawFn) -> tuple[int, str]:
    """A 32-bit address and one of the inet_aton spellings of it."""
    number = draw(st.integers(0, 2**32 - 1))
    parts = draw(st.integers(1, 4))
    octets = number.to_bytes(4, "big")
    head = list(octets[: parts - 1])
    last = int.from_bytes(octets[parts - 1 :], "big")
    styles = draw(
        st.lists(st.sampled_from(["dec", "hex", "octal"]), min_size=parts, max_size=parts)
    )
    text = ".".join(_write(v, s) for v, s in zip([*head, last], styles, strict=True))
    return number, text + draw(st.sampled_from(["", "."]))


@settings(max_examples=300, deadline=None)
@given(numeric_hosts())
def test_every_spelling_reads_as_inet_aton_reads_it(case: tuple[int, str]) -> None:
    number, text = case
    assert parse_ipv4_numeric(text) == ipaddress.IPv4Address(number)
    assert socket.inet_aton(text.rstrip(".")) == number.to_bytes(4, "big")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(lambda host: f"http://{host}/hook", st.text(max_size=40)),
        st.builds(lambda case: f"https://{case[1]}/x", numeric_hosts()),
    )
)
def test_a_url_is_accepted_or_refused_with_a_422(url: str) -> None:
    for loopback in (False, True):
        try:
            assert isinstance(check_webhook_url(url, allow_loopback=loopback), str)
        except ValidationFailed as e:
            assert e.status == 422 and e.errors[0]["field"] == "url"


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_an_address_and_its_ipv6_wrappings_get_one_verdict(number: int) -> None:
    address = ipaddress.IPv4Address(number)
    allowed = address_problem(address, allow_loopback=False) is None
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | number)
    for wrapped in (mapped, nat64):
        assert (address_problem(wrapped, allow_loopback=False) is None) is allowed
    if allowed:
        assert address.is_global

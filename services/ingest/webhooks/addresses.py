"""Which addresses a webhook may reach (no I/O): numeric hosts in every form a resolver
accepts, and the rule that refuses every address that is not public.

The rule, for each address a host is or resolves to:

- link-local (169.254/16, fe80::/10: cloud metadata), multicast, broadcast and
  IPv4-compatible IPv6 (``::a.b.c.d``) are always refused;
- loopback and unspecified (127/8, ::1, 0.0.0.0, ::) only with
  LIENTHONG_WEBHOOK_ALLOW_LOOPBACK=true, or when listed in the allow-list;
- an address inside a network of LIENTHONG_WEBHOOK_ALLOW_NETWORKS is allowed;
- anything else must be globally routable: private (10/8, 172.16/12, 192.168/16,
  fc00::/7), shared (100.64/10, which holds 100.100.100.200), reserved and
  documentation ranges are refused.

An IPv6 address that carries an IPv4 one (``::ffff:10.0.0.1``, NAT64
``64:ff9b::a.b.c.d``, 6to4 ``2002:aabb:ccdd::``) is judged by the IPv4 address too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_LOOPBACK_SETTING = "LIENTHONG_WEBHOOK_ALLOW_LOOPBACK"
ALLOW_NETWORKS_SETTING = "LIENTHONG_WEBHOOK_ALLOW_NETWORKS"

# Not public, whatever this Python's ipaddress tables say (they changed across versions).
_NOT_PUBLIC: tuple[Network, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT; 100.100.100.200 metadata)
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "240.0.0.0/4",
        "fc00::/7",  # unique local (fd00:ec2::254 metadata)
        "fec0::/10",  # site-local, deprecated
        "2001::/32",  # Teredo
        "64:ff9b:1::/48",  # local-use NAT64
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

_NUMERIC_PART = re.compile(r"(0[xX][0-9a-fA-F]*|[0-9]+)")


def parse_ipv4_numeric(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``host`` names in the forms C's inet_aton (and so getaddrinfo)
    accepts: one to four parts, each decimal, octal (leading 0) or hex (0x), the last
    part filling the remaining bytes, e.g. ``2852039166``, ``0xa9fea9fe``,
    ``0251.0376.0251.0376``, ``169.254.43518``; a trailing dot is allowed. None when
    ``host`` is not such a number; ValueError when it is numeric but out of range."""
    text = host[:-1] if host.endswith(".") else host
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.fullmatch(p) for p in parts):
        return None
    values = []
    for part in parts:
        if part[:2].lower() == "0x":
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if any(ch in "89" for ch in part):
                raise ValueError(f"{host} is not a valid IPv4 address (bad octal)")
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(f"{host} is not a valid IPv4 address (a part is too large)")
    number = last
    for i, value in enumerate(head):
        number |= value << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def looks_numeric(host: str) -> bool:
    """A host whose last label is a number: resolvers take it as an address, never a name."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return bool(last) and _NUMERIC_PART.fullmatch(last) is not None


def host_address(host: str) -> IPAddress | None:
    """The address a numeric host stands for (any IPv4 form, or IPv6 with or without
    a zone), None for a name; ValueError for a number that is not an address."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    address = parse_ipv4_numeric(host)
    if address is None and looks_numeric(host):
        raise ValueError(f"{host} is not a valid IPv4 address")
    return address


def _views(address: IPAddress) -> list[IPAddress] | str:
    """The addresses to judge for ``address``: itself, and any IPv4 address it carries;
    or why it is refused outright."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return f"{address} is an IPv4-compatible IPv6 address (deprecated, never a webhook)"
    if address.sixtofour is not None:
        return [address, address.sixtofour]
    return [address]


def _problem(
    address: IPAddress, *, allow_loopback: bool, allow_networks: Sequence[Network]
) -> str | None:
    if address.is_link_local:
        return f"{address} is link-local (for example a cloud metadata service)"
    if address.is_multicast or address == ipaddress.IPv4Address("255.255.255.255"):
        return f"{address} is not a unicast address"
    listed = any(address.version == n.version and address in n for n in allow_networks)
    if address.is_loopback or address.is_unspecified:
        if allow_loopback or listed:
            return None
        return f"{address} is this host (loopback); set {ALLOW_LOOPBACK_SETTING}=true to allow it"
    if listed:
        return None
    if not address.is_global or any(
        address in n for n in _NOT_PUBLIC if n.version == address.version
    ):
        return (
            f"{address} is not a public address (private, shared or reserved); list its "
            f"network in {ALLOW_NETWORKS_SETTING} to allow it"
        )
    return None


def address_problem(
    address: IPAddress, *, allow_loopback: bool, allow_networks: Sequence[Network] = ()
) -> str | None:
    """Why we would not POST to this address, or None."""
    views = _views(address)
    if isinstance(views, str):
        return views
    for view in views:
        problem = _problem(view, allow_loopback=allow_loopback, allow_networks=allow_networks)
        if problem:
            return problem if view == address else f"{address} carries {problem}"
    return None


def parse_networks(text: str) -> tuple[Network, ...]:
    """A comma-separated list of CIDRs (``10.20.0.0/16, fd12:3456::/48``); ValueError
    naming the bad one. A bare address is a network of one."""
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as e:
            raise ValueError(f"{item!r} is not a network (CIDR such as 10.20.0.0/16)") from e
    return tuple(networks)

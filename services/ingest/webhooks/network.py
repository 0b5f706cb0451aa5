"""Where a webhook may connect: a host's addresses, resolved and checked, and an HTTP
adapter whose connections go only to an address that was checked.

A name is resolved once per connection; every address it has (A and AAAA) must pass
the rule of ``addresses``, and the socket then connects to one of exactly those
addresses. A DNS answer that changes between the check and the connection (DNS
rebinding) cannot move the connection elsewhere. The URL keeps its host name, so the
``Host`` header, TLS SNI and the certificate check are the name's.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from services.ingest.webhooks.addresses import IPAddress, Network, address_problem, host_address

Resolve = Callable[[str], Sequence[str]]  # a host name -> its addresses, as text


class AddressRefused(Exception):
    """The host is, or resolves to, an address a webhook may not reach (permanent)."""


def system_resolve(host: str) -> list[str]:
    """Every address of ``host`` (A and AAAA) from the system resolver; OSError when
    it has none."""
    infos = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class AddressGuard:
    """The address rule of one deployment (its settings) and the resolver it uses.
    ``resolve`` may be replaced (tests give a fake one)."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        allow_networks: Sequence[Network] = (),
        resolve: Resolve | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.allow_networks = tuple(allow_networks)
        self.resolve: Resolve = resolve or system_resolve

    def problem(self, address: IPAddress) -> str | None:
        return address_problem(
            address, allow_loopback=self.allow_loopback, allow_networks=self.allow_networks
        )

    def addresses(self, host: str) -> list[IPAddress]:
        """The addresses ``host`` may be reached at: all of them, each checked.
        AddressRefused if any is refused; OSError if the name does not resolve."""
        host = host.strip("[]")
        try:
            numeric = host_address(host)
        except ValueError as e:
            raise AddressRefused(str(e)) from None
        if numeric is not None:
            found = [numeric]
        else:
            found = []
            for text in self.resolve(host):
                address = host_address(str(text))
                if address is None:
                    raise OSError(f"the resolver gave {text!r} for {host}")
                found.append(address)
            if not found:
                raise OSError(f"{host} has no address")
        for address in found:
            problem = self.problem(address)
            if problem:
                raise AddressRefused(problem if numeric else f"{host} resolves to {problem}")
        return list(dict.fromkeys(found))


# --- connections that only go where the guard allows ------------------------------------


def _connect(conn: HTTPConnection, guard: AddressGuard) -> socket.socket:
    """``HTTPConnection._new_conn``, connecting to the checked addresses only."""
    try:
        addresses = guard.addresses(conn._dns_host)
    except OSError as e:
        raise NameResolutionError(conn.host, conn, socket.gaierror(str(e))) from e
    error: OSError | None = None
    for address in addresses:
        try:
            return create_connection(
                (str(address), conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as e:
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from e
        except OSError as e:
            error = e
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}")


def guarded_pool_classes(guard: AddressGuard) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pool classes (by scheme) whose connections ask ``guard`` first."""

    class GuardedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _connect(self, guard)

    class GuardedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _connect(self, guard)

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class GuardedAdapter(HTTPAdapter):
    """A requests adapter for direct connections through ``guard``. (A proxy from the
    environment connects for us; the transport checks the name before using one.)"""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        self.guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = guarded_pool_classes(self.guard)

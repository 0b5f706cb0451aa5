"""The ``lienthong`` command: one group, each service adds its own commands.

This is the composition root: the one place that knows every service (no service
imports another), so it declares the bus topology built from their handler maps.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any, Protocol

import click
from flask import Flask
from kombu import Connection, Queue

from services.common.bus.connection import connect
from services.common.bus.topology import declare_queues
from services.common.errors import LienThongError
from services.common.runtime import Runner, Service
from services.common.settings import CommonSettings, Env, load_common
from services.common.wiring import configure_logging, migrate, service_of


class ServiceSettings(Protocol):
    """What the composition root needs of any service's settings."""

    @property
    def common(self) -> CommonSettings: ...

    @property
    def port(self) -> int: ...

    @property
    def database_url(self) -> str: ...


ServiceLoader = Callable[[], tuple[ServiceSettings, Callable[[Any], Flask]]]


def _ingest() -> tuple[ServiceSettings, Callable[[Any], Flask]]:
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    return IngestSettings.from_env(), create_app


def _signing() -> tuple[ServiceSettings, Callable[[Any], Flask]]:
    from services.signing.app import create_app
    from services.signing.settings import SigningSettings

    return SigningSettings.from_env(), create_app


def _routing() -> tuple[ServiceSettings, Callable[[Any], Flask]]:
    from services.routing.app import create_app
    from services.routing.settings import RoutingSettings

    return RoutingSettings.from_env(), create_app


def _web() -> tuple[ServiceSettings, Callable[[Any], Flask]]:
    from services.web.app import create_app
    from services.web.settings import WebSettings

    return WebSettings.from_env(), create_app


# Each service is imported only when it is used. The web app is first: `up` prints its
# URL first, as people open it.
SERVICES: dict[str, ServiceLoader] = {
    "web": _web,
    "ingest": _ingest,
    "signing": _signing,
    "routing": _routing,
}
#: The services with a queue on the bus (the web app talks HTTP only).
BUS_SERVICES = ("ingest", "signing", "routing")


def service_queues() -> list[Queue]:
    """Every service's events queue, bound from its own handler map."""
    queues = [import_module(f"services.{name}.consumers").EVENTS_QUEUE for name in BUS_SERVICES]
    assert all(isinstance(q, Queue) for q in queues)
    return queues


def declare_bus(common: CommonSettings) -> None:
    """Declare every service's queue before any service runs, so an event published
    before its reader first started is kept, not dropped by the topic exchange."""
    with connect(common.broker) as connection:
        connection.ensure_connection(max_retries=3)
        declare_queues(connection, service_queues())


def build_service(name: str) -> Service:
    settings, create_app = SERVICES[name]()
    return service_of(create_app(settings), settings.common.host, settings.port)


class Group(click.Group):
    """Turns our errors into one clear line and exit code 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LienThongError as e:
            click.echo(f"error: {e.detail}", err=True)
            sys.exit(2)


@click.group(cls=Group)
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """Liên Thông: document exchange and signing between state agencies."""
    configure_logging(logging.DEBUG if verbose else logging.INFO)


@main.command()
@click.argument("service", type=click.Choice(sorted(SERVICES)))
@click.option(
    "--workers-only",
    is_flag=True,
    help="Run only the bus workers (outbox relay, consumers, the agency connector), "
    "no HTTP: more of them scale out against the same broker and database.",
)
def serve(service: str, workers_only: bool) -> None:
    """Run one service: its HTTP API and its bus workers."""
    built = build_service(service)
    declare_bus(load_common(Env()))
    Runner([built], serve_http=not workers_only).run_forever()


@main.command()
def up() -> None:
    """Run all four services in this process (the embedded shape); the web app first."""
    services = [build_service(name) for name in SERVICES]
    declare_bus(load_common(Env()))
    runner = Runner(services)
    for service in services:
        click.echo(
            f"  {service.name:8} {service.url}" + ("  ← open this" if service.name == "web" else "")
        )
    click.echo("Press Ctrl-C to stop.")
    runner.run_forever()


@main.command("migrate")
def migrate_command() -> None:
    """Apply every service's database migrations."""
    for name, load in SERVICES.items():
        settings, _create = load()
        migrate(name, settings.database_url)
        click.echo(f"{name}: migrated", err=True)
    declare_bus(load_common(Env()))
    click.echo("bus: every service's queue declared", err=True)


@main.group()
def dead() -> None:
    """Dead letters (lt.dead): messages no consumer could apply."""


def _bus_connection() -> Connection:
    return connect(load_common(Env()).broker)


@dead.command("list")
def dead_list() -> None:
    """Show every dead letter with its reason."""
    from services.common.bus.deadletters import list_dead

    with _bus_connection() as connection:
        letters = list_dead(connection)
    for d in letters:
        click.echo(
            f"{d.message_id}\t{d.type}\t{d.original_exchange}/{d.original_routing_key}\t"
            f"{d.consumer}\tattempts={d.attempts}\t{d.dead_at}\t{d.reason}"
        )
    click.echo(f"{len(letters)} dead letter(s)", err=True)


@dead.command("replay")
@click.argument("message_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def dead_replay(message_ids: tuple[str, ...], replay_all: bool) -> None:
    """Send dead letters back to the exchange and routing key they came from."""
    from services.common.bus.deadletters import replay_dead

    if not message_ids and not replay_all:
        raise click.UsageError("name message ids, or pass --all")
    with _bus_connection() as connection:
        replayed = replay_dead(connection, None if replay_all else set(message_ids))
    for d in replayed:
        click.echo(f"replayed {d.message_id} to {d.original_exchange}/{d.original_routing_key}")
    click.echo(f"{len(replayed)} replayed", err=True)


@main.group()
def demo() -> None:
    """Demo data for the embedded shape."""


@demo.command("seed")
def demo_seed() -> None:
    """Demo agencies with fresh API keys (older demo keys are revoked), and their
    signing material: the PKI, certificates, a seal per agency, a leader's signature."""
    from services.ingest.cli import seed_demo_agencies
    from services.signing.cli import seed_demo

    seeded = seed_demo_agencies()
    for code, name, key in seeded:
        click.echo(f"  {code}  {name}\n      API key: {key}")
    seed_demo([(code, name) for code, name, _key in seeded], "Nguyễn Văn An", "Chủ tịch")


def _register_service_commands() -> None:
    from services.ingest.cli import register as register_ingest
    from services.routing.cli import register as register_routing
    from services.signing.cli import register as register_signing
    from services.signing.pki.cli import register as register_pki
    from services.signing.trust_cli import register as register_trust
    from services.signing.verification.cli import register as register_verify
    from services.web.cli import register as register_web

    register_ingest(main)
    register_routing(main)
    register_signing(main)
    register_pki(main)
    register_trust(main)
    register_verify(main)
    register_web(main)


_register_service_commands()

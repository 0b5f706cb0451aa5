"""Routing's commands: the audit chain, delivery receipts and the e-share ledger."""

from __future__ import annotations

import sys
from typing import IO

import click

from services.common.db import Database
from services.routing.audit import verify_chain
from services.routing.settings import RoutingSettings


@click.group()
def audit() -> None:
    """The tamper-evident audit log of every exchange event."""


@audit.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; name the first record altered, removed or reordered."""
    db = Database(RoutingSettings.from_env().database_url)
    try:
        check = verify_chain(db)
    finally:
        db.dispose()
    if check.ok:
        click.echo(f"audit chain intact: {check.records} records")
        return
    click.echo(
        f"audit chain BROKEN at record {check.first_bad_seq}: {check.problem} "
        f"({check.records} records verified before it)"
    )
    sys.exit(1)


@click.group()
def receipts() -> None:
    """Delivery receipts signed with the platform's key."""


@receipts.command("verify")
@click.argument("receipt", type=click.File("r"))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.File("rb"),
    help="The platform's public key (PEM), from GET /v1/receipts/key.",
)
def receipts_verify(receipt: IO[str], key_file: IO[bytes]) -> None:
    """Check a receipt offline; print what it states."""
    import json

    from services.common.errors import ValidationFailed
    from services.routing.receipts import verify_receipt

    text = receipt.read().strip()
    if text.startswith("{"):
        text = json.loads(text)["receipt"]
    try:
        claims = verify_receipt(text, key_file.read())
    except ValidationFailed as e:
        click.echo(f"receipt NOT valid: {e.detail}")
        sys.exit(1)
    click.echo("receipt valid")
    click.echo(json.dumps(claims, ensure_ascii=False, indent=2))


def register(group: click.Group) -> None:
    group.add_command(audit)
    group.add_command(receipts)
    group.add_command(ledger)


@click.group()
def ledger() -> None:
    """The exchange ledger behind the e-document share."""


@ledger.command("rebuild")
def ledger_rebuild() -> None:
    """Empty the ledger and rebuild it from the stored exchanges, deliveries, status
    events and signature verdicts (after an upgrade, or to check the incremental one)."""
    from services.routing.ledger.rebuild import rebuild

    db = Database(RoutingSettings.from_env().database_url)
    try:
        done = rebuild(db)
    finally:
        db.dispose()
    click.echo(
        f"ledger rebuilt: {done.exchanges} exchanges, {done.deliveries} deliveries, "
        f"{done.daily_rows} daily rows, {done.latency_rows} latency rows"
    )

"""Ingest's commands: the agency registry, API keys, webhooks and the demo seed."""

from __future__ import annotations

import sys

import click

from services.common.db import Database
from services.ingest.agencies import (
    add_agency,
    create_api_key,
    list_agencies,
    list_api_keys,
    revoke_api_key,
    revoke_api_key_ids,
    revoke_api_keys,
)
from services.ingest.edxml.policy import require_signed_packages
from services.ingest.settings import IngestSettings
from services.ingest.webhooks import store as webhook_store
from services.ingest.webhooks.http import guard_for
from services.ingest.webhooks.rules import EVENTS, SecretBox

DEMO_AGENCIES = [
    ("000.00.00.H41", "UBND tỉnh Nghệ An (demo)", None),
    ("000.00.01.H41", "Sở Nội vụ tỉnh Nghệ An (demo)", "000.00.00.H41"),
    ("000.00.02.H41", "Sở Tài chính tỉnh Nghệ An (demo)", "000.00.00.H41"),
]
DEMO_LABEL = "demo"


def _db() -> Database:
    return Database(IngestSettings.from_env().database_url)


@click.group()
def agencies() -> None:
    """The agency registry (mã định danh, QĐ 20/2020/QĐ-TTg)."""


@agencies.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--parent", default=None, help="Code of the parent agency.")
@click.option("--email", default=None, help="Official mailbox (hòm thư công vụ) for reminders.")
def agencies_add(code: str, name: str, parent: str | None, email: str | None) -> None:
    """Register an agency."""
    agency = add_agency(_db(), code, name, parent=parent, email=email)
    if agency.nonstandard_code:
        click.echo(
            f"warning: {agency.code} is not a QĐ 20/2020 identifier; registered with a "
            "warning flag",
            err=True,
        )
    click.echo(f"registered {agency.code} {agency.name}", err=True)


@agencies.command("list")
def agencies_list() -> None:
    """List registered agencies."""
    for a in list_agencies(_db()):
        flag = "  (non-standard code)" if a.nonstandard_code else ""
        parent = f"  parent {a.parent_code}" if a.parent_code else ""
        click.echo(f"{a.code}\t{a.name}{parent}{flag}")


@agencies.command("signed-packages")
@click.argument("code")
@click.option(
    "--require/--allow-unsigned",
    default=True,
    help="Refuse edXML packages without a valid XML-DSig signature (or accept them).",
)
def agencies_signed_packages(code: str, require: bool) -> None:
    """Set whether an agency's edXML packages must be validly signed."""
    required = require_signed_packages(_db(), code, require)
    state = "must be validly signed" if required else "may be unsigned"
    click.echo(f"{code}: edXML packages {state}", err=True)


@agencies.command("webhook")
@click.argument("code")
@click.argument("url", required=False)
@click.option(
    "--event",
    "events",
    multiple=True,
    type=click.Choice(EVENTS),
    help="Push only this event (repeat for more); default: every event.",
)
@click.option("--remove", is_flag=True, help="Remove the agency's webhook.")
def agencies_webhook(code: str, url: str | None, events: tuple[str, ...], remove: bool) -> None:
    """Register an agency's webhook and print its new secret (the only line on stdout),
    or remove it with --remove."""
    settings = IngestSettings.from_env()
    db = Database(settings.database_url)
    if remove:
        if url is not None:
            raise click.UsageError("--remove takes no URL")
        webhook_store.remove_webhook(db, code)
        click.echo(f"removed the webhook of {code}", err=True)
        return
    if url is None:
        raise click.UsageError("give the webhook URL, or --remove")
    view, secret, _created = webhook_store.register_webhook(
        db,
        SecretBox(settings.webhook.secret_keys),
        code,
        url,
        events=list(events) or None,
        guard=guard_for(settings.webhook),
    )
    click.echo(secret)
    wanted = ", ".join(view["events"] or ["every event"])
    click.echo(f"{code} pushes {wanted} to {view['url']}", err=True)


@click.group()
def keys() -> None:
    """Agency API keys (only their hashes are stored)."""


@keys.command("create")
@click.argument("code")
@click.option("--label", default="", help="A note to tell keys apart.")
def keys_create(code: str, label: str) -> None:
    """Print a new API key for an agency: the only line on stdout."""
    click.echo(create_api_key(_db(), code, label))


@keys.command("list")
@click.argument("code")
def keys_list(code: str) -> None:
    """An agency's keys: id, label, created, revoked (the keys themselves are not kept)."""
    for k in list_api_keys(_db(), code):
        revoked = f"revoked {k.revoked_at.isoformat()}" if k.revoked_at else "active"
        click.echo(f"{k.id}\t{k.label or '-'}\t{k.created_at.isoformat()}\t{revoked}")


@keys.command("revoke")
@click.argument("code", required=False)
@click.option("--id", "ids", type=int, multiple=True, help="A key id from 'keys list' (repeat).")
@click.option("--label", default=None, help="Every active key of CODE with this label.")
@click.option(
    "--stdin", "from_stdin", is_flag=True, help="Read keys themselves, one a line, from stdin."
)
def keys_revoke(
    code: str | None, ids: tuple[int, ...], label: str | None, from_stdin: bool
) -> None:
    """Revoke API keys: of CODE by --id or --label, or given on stdin (a key never goes on
    the command line). A running service stops taking a revoked key within its
    LIENTHONG_API_KEY_CACHE_SECONDS."""
    db = _db()
    if from_stdin:
        if code or ids or label is not None:
            raise click.UsageError("--stdin takes no CODE, --id or --label")
        count = 0
        for line in sys.stdin:
            if not line.strip():
                continue
            agency = revoke_api_key(db, line)
            if agency is None:
                click.echo("a key given is not an active key", err=True)
            else:
                click.echo(f"revoked a key of {agency}", err=True)
                count += 1
    elif code is None or bool(ids) == (label is not None):
        raise click.UsageError("give CODE with --id or --label, or pass keys with --stdin")
    elif ids:
        count = revoke_api_key_ids(db, code, ids)
    else:
        count = revoke_api_keys(db, code, label or "")
    click.echo(f"{count} key(s) revoked", err=True)
    if count == 0:
        sys.exit(1)


@click.group()
def webhooks() -> None:
    """Pushes to agencies' webhooks: pending, delivered and dead ones."""


@webhooks.command("list")
@click.option("--agency", default=None, help="Only this agency's pushes.")
@click.option("--state", type=click.Choice(webhook_store.STATES), default=None, help="Only these.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
def webhooks_list(agency: str | None, state: str | None, limit: int) -> None:
    """Newest first: id, agency, event, state, attempts, created, last status and error."""
    jobs = webhook_store.list_jobs(_db(), agency, state, limit)
    for j in jobs:
        click.echo(
            f"{j['id']}\t{j['agency']}\t{j['event']}\t{j['state']}\tattempts={j['attempts']}\t"
            f"{j['created_at']}\t{j['last_status'] or '-'}\t{j['last_error'] or ''}"
        )
    click.echo(f"{len(jobs)} push(es)", err=True)


@webhooks.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Every dead push (of --agency, or of all).")
@click.option("--agency", default=None, help="With --all-dead: only this agency's.")
def webhooks_retry(job_ids: tuple[str, ...], all_dead: bool, agency: str | None) -> None:
    """Send dead (or waiting) pushes again now; the running worker picks them up."""
    if bool(job_ids) == all_dead:
        raise click.UsageError("name push ids, or pass --all-dead")
    db = _db()
    if all_dead:
        count = webhook_store.retry_dead(db, agency)
    else:
        for job_id in job_ids:
            webhook_store.retry_job(db, job_id)
            click.echo(f"queued {job_id}")
        count = len(job_ids)
    click.echo(f"{count} queued again", err=True)


@webhooks.command("rekey")
def webhooks_rekey() -> None:
    """Re-encrypt every webhook secret under the first LIENTHONG_WEBHOOK_SECRET_KEY."""
    settings = IngestSettings.from_env()
    count = webhook_store.reseal_secrets(
        Database(settings.database_url), SecretBox(settings.webhook.secret_keys)
    )
    click.echo(f"{count} secret(s) re-encrypted under the first key", err=True)


def seed_demo_agencies() -> list[tuple[str, str, str]]:
    """Register the demo agencies if missing; fresh demo keys (older ones are revoked)."""
    db = _db()
    known = {a.code for a in list_agencies(db)}
    for code, name, parent in DEMO_AGENCIES:
        if code not in known:
            add_agency(db, code, name, parent=parent)
    seeded = []
    for code, name, _parent in DEMO_AGENCIES:
        revoke_api_keys(db, code, DEMO_LABEL)
        seeded.append((code, name, create_api_key(db, code, DEMO_LABEL)))
    return seeded


def register(group: click.Group) -> None:
    group.add_command(agencies)
    group.add_command(keys)
    group.add_command(webhooks)

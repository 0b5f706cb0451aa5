"""Push delivery's commands: lienthong agencies webhook, lienthong webhooks list/retry/rekey."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.ingest.models import Webhook
from services.ingest.webhooks import network
from services.ingest.webhooks.rules import EVENT_RECEIVED, SecretBox
from tests.unit.ingest.test_webhooks_kit import (
    HOOK,
    RECIPIENT,
    Ingest,
    dispatched,
    fake_resolve,
    ingest_app,
    land,
)


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    yield from ingest_app(tmp_path)


# --- the CLI ----------------------------------------------------------------------------------


def test_the_cli_registers_lists_retries_and_removes(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ingest.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(network, "system_resolve", fake_resolve)
    runner = CliRunner()

    registered = runner.invoke(
        main, ["agencies", "webhook", RECIPIENT, HOOK, "--event", EVENT_RECEIVED]
    )
    assert registered.exit_code == 0, registered.output
    [secret] = registered.stdout.splitlines()  # the secret is the only line on stdout
    with ingest.ctx.db.reading() as session:
        stored = session.get(Webhook, RECIPIENT)
    assert stored is not None and ingest.ctx.webhook_box.open(stored.secret) == secret
    assert stored.events == [EVENT_RECEIVED]

    refused = runner.invoke(main, ["agencies", "webhook", RECIPIENT, "ftp://example.gov.vn/"])
    assert refused.exit_code == 2 and "https://" in refused.stderr

    land(ingest, dispatched(ingest.document()))
    [job] = ingest.jobs()
    ingest.mark(job.id, dead_at=datetime.now(UTC), last_error="HTTP 404", last_status=404)
    listed = runner.invoke(main, ["webhooks", "list", "--state", "dead"])
    assert listed.exit_code == 0
    assert job.id in listed.stdout and "HTTP 404" in listed.stdout
    assert runner.invoke(main, ["webhooks", "retry"]).exit_code == 2
    retried = runner.invoke(main, ["webhooks", "retry", "--all-dead", "--agency", RECIPIENT])
    assert retried.exit_code == 0 and "1 queued again" in retried.stderr
    assert runner.invoke(main, ["webhooks", "list", "--state", "dead"]).stdout == ""
    assert runner.invoke(main, ["webhooks", "retry", job.id]).exit_code == 0
    assert runner.invoke(main, ["webhooks", "retry", str(uuid.uuid4())]).exit_code == 2

    removed = runner.invoke(main, ["agencies", "webhook", RECIPIENT, "--remove"])
    assert removed.exit_code == 0
    assert runner.invoke(main, ["agencies", "webhook", RECIPIENT, "--remove"]).exit_code == 2
    assert runner.invoke(main, ["agencies", "webhook", RECIPIENT]).exit_code == 2


def test_rekey_moves_every_secret_to_the_new_key(
    ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = ingest.register(RECIPIENT)["secret"]
    old_key = ingest.ctx.settings.common.service_token  # the default key
    new_key = "a-brand-new-key-0123456789"
    for name, value in ingest.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LIENTHONG_WEBHOOK_SECRET_KEY", f"{new_key},{old_key}")

    result = CliRunner().invoke(main, ["webhooks", "rekey"])

    assert result.exit_code == 0, result.output
    assert "1 secret(s)" in result.stderr
    with ingest.ctx.db.reading() as session:
        stored = session.get(Webhook, RECIPIENT)
    assert stored is not None
    assert SecretBox([new_key]).open(stored.secret) == secret

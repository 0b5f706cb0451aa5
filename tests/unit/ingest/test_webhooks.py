"""Push delivery, the parts with no I/O: signatures and the replay window, the retry
schedule, URL rules, the event filter, secrets at rest, and the settings."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest

from services.common.errors import SettingsError, ValidationFailed
from services.ingest.settings import IngestSettings
from services.ingest.webhooks.rules import (
    EVENT_RECEIVED,
    EVENT_STATUS,
    SecretBox,
    SecretUnavailable,
    backoff_delay,
    check_events,
    check_webhook_url,
    new_secret,
    sign,
    verify_webhook_signature,
)

SECRET = "whsec_test-secret-0123456789"
BODY = json.dumps(
    {"id": "j1", "type": "delivery.received", "data": {"subject": "Về việc"}}, ensure_ascii=False
).encode()
NOW = 1_790_000_000


# --- signatures ---------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"sha256={expected}"
    assert sign(SECRET, str(NOW), BODY.decode()) == sign(SECRET, NOW, BODY)


def test_a_fresh_signature_verifies() -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify_webhook_signature(SECRET, str(NOW), BODY, header, now=NOW)
    assert verify_webhook_signature(SECRET, NOW, BODY.decode(), header, now=NOW + 1)


@pytest.mark.parametrize("skew", [300, -300, 299, -1])
def test_timestamps_inside_the_replay_window_verify(skew: int) -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify_webhook_signature(SECRET, NOW, BODY, header, now=NOW + skew)


@pytest.mark.parametrize("skew", [301, -301, 3600, -86400])
def test_timestamps_outside_the_replay_window_are_refused(skew: int) -> None:
    header = sign(SECRET, NOW, BODY)  # a genuine signature, replayed (or from the future)
    assert not verify_webhook_signature(SECRET, NOW, BODY, header, now=NOW + skew)


def test_the_window_can_be_narrowed() -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify_webhook_signature(SECRET, NOW, BODY, header, now=NOW + 30, window=30)
    assert not verify_webhook_signature(SECRET, NOW, BODY, header, now=NOW + 31, window=30)


def test_a_tampered_body_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    tampered = BODY.replace("Về việc".encode(), "Về việc khác".encode())
    assert not verify_webhook_signature(SECRET, NOW, tampered, header, now=NOW)
    assert not verify_webhook_signature(SECRET, NOW, BODY + b" ", header, now=NOW)
    reserialized = json.dumps(json.loads(BODY)).encode()  # same JSON, other bytes
    assert not verify_webhook_signature(SECRET, NOW, reserialized, header, now=NOW)


def test_a_moved_timestamp_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    # An attacker replaying an old push with a fresh timestamp cannot re-sign it.
    assert not verify_webhook_signature(SECRET, NOW + 100, BODY, header, now=NOW + 100)


def test_another_secret_is_refused() -> None:
    header = sign("whsec_someone-else", NOW, BODY)
    assert not verify_webhook_signature(SECRET, NOW, BODY, header, now=NOW)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha256=", "sha1=" + "0" * 40, "0" * 64, "sha256=" + "0" * 64, "sha256=zz"],
)
def test_malformed_or_missing_signatures_are_refused(header: str | None) -> None:
    assert not verify_webhook_signature(SECRET, NOW, BODY, header, now=NOW)


@pytest.mark.parametrize("timestamp", [None, "", "abc", "1.5", "-5", "1e9", "１２３"])
def test_malformed_timestamps_are_refused(timestamp: str | None) -> None:
    header = sign(SECRET, NOW, BODY)
    assert not verify_webhook_signature(SECRET, timestamp, BODY, header, now=NOW)


def test_an_empty_secret_never_verifies() -> None:
    assert not verify_webhook_signature("", NOW, BODY, sign("", NOW, BODY), now=NOW)


def test_new_secrets_are_random_and_long() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)


# --- the retry schedule ---------------------------------------------------------------


@pytest.mark.parametrize("attempts", range(1, 15))
def test_backoff_stays_within_full_jitter_bounds(attempts: int) -> None:
    ceiling = min(600.0, 2.0 * 2 ** (attempts - 1))
    rng = random.Random(attempts)
    delays = [backoff_delay(attempts, 2.0, 600.0, rng.random) for _ in range(200)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling / 2  # jitter spreads over the whole range...
    assert min(delays) < ceiling / 2  # ...not just around the ceiling


def test_backoff_doubles_then_stops_at_the_cap() -> None:
    top = [backoff_delay(n, 2.0, 600.0, lambda: 1.0) for n in range(1, 13)]
    assert top[:6] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    assert top[8:] == [512.0, 600.0, 600.0, 600.0]
    assert backoff_delay(10_000, 2.0, 600.0, lambda: 1.0) == 600.0  # no overflow
    assert backoff_delay(3, 2.0, 600.0, lambda: 0.0) == 0.0


def test_backoff_base_and_cap_are_injectable() -> None:
    assert backoff_delay(1, 0.001, 0.005, lambda: 1.0) == 0.001
    assert backoff_delay(20, 0.001, 0.005, lambda: 1.0) == 0.005


# --- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://vanban.nghean.gov.vn/lienthong/hook",
        "http://14.225.0.10:8080/hook?x=1",
        "https://[2402:800:20ff::10]/hook",
        "HTTPS://Example.GOV.VN./hook",
    ],
)
def test_good_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(f"  {url} ", allow_loopback=False) == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (None, "required"),
        ("", "required"),
        ("ftp://example.gov.vn/hook", "https://"),
        ("file:///etc/passwd", "https://"),
        ("gopher://example.gov.vn/", "https://"),
        ("example.gov.vn/hook", "https://"),
        ("https://user:pass@example.gov.vn/hook", "user name or password"),
        ("https://user@example.gov.vn/hook", "user name or password"),
        ("https://@example.gov.vn/hook", "user name or password"),
        ("https:///hook", "no host"),
        ("https://example.gov.vn:99999/hook", "bad port"),
        ("https://example.gov.vn/ho ok", "spaces"),
        ("https://example.gov.vn/\x00", "control"),
        ("https://example.gov.vn/hook#frag", "fragment"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.1/hook", "unicast"),
        ("https://" + "a" * 2000 + ".vn/", "longer"),
        ("https://exa..mple.vn/", "not a valid host"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: object, why: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_webhook_url(url, allow_loopback=True)
    assert why in caught.value.errors[0]["message"]
    assert caught.value.errors[0]["field"] == "url"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://127.8.9.10/hook",
        "http://localhost/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_loopback_only_when_allowed(url: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_webhook_url(url, allow_loopback=False)
    assert "LIENTHONG_WEBHOOK_ALLOW_LOOPBACK" in caught.value.detail
    assert check_webhook_url(url, allow_loopback=True) == url


# --- the event filter ------------------------------------------------------------------


def test_event_filters() -> None:
    assert check_events(None) == []
    assert check_events([]) == []
    assert check_events([EVENT_STATUS, EVENT_RECEIVED, EVENT_STATUS]) == [
        EVENT_RECEIVED,
        EVENT_STATUS,
    ]
    for bad in ("delivery.received", ["delivery.nope"], [1], {"a": 1}):
        with pytest.raises(ValidationFailed):
            check_events(bad)


# --- secrets at rest -----------------------------------------------------------------------


def test_secrets_are_sealed_and_opened_and_keys_rotate() -> None:
    old = SecretBox(["old-key-0123456789abcdef"])
    sealed = old.seal(SECRET)
    assert SECRET not in sealed
    assert old.open(sealed) == SECRET

    rotated = SecretBox(["new-key-0123456789abcdef", "old-key-0123456789abcdef"])
    assert rotated.open(sealed) == SECRET  # old secrets still readable
    resealed = rotated.seal(SECRET)
    assert SecretBox(["new-key-0123456789abcdef"]).open(resealed) == SECRET

    moved = rotated.reseal(sealed)  # what `lienthong webhooks rekey` does to each row
    assert SecretBox(["new-key-0123456789abcdef"]).open(moved) == SECRET

    with pytest.raises(SecretUnavailable):
        SecretBox(["another-key-0123456789ab"]).open(sealed)
    with pytest.raises(SecretUnavailable):
        SecretBox(["another-key-0123456789ab"]).reseal(sealed)
    with pytest.raises(SecretUnavailable):
        old.open("not a token")


# --- settings ----------------------------------------------------------------------------


def test_webhook_defaults(base_env: dict[str, str]) -> None:
    webhook = IngestSettings.from_env(base_env).webhook
    assert (webhook.connect_timeout, webhook.read_timeout) == (5.0, 10.0)
    assert webhook.max_age == 24 * 3600
    assert (webhook.backoff_base, webhook.backoff_cap) == (2.0, 600.0)
    assert webhook.allow_loopback  # embedded (SQLite): the demo's receivers are local
    assert webhook.concurrency == 8
    # The key defaults to the service token, which every process already shares.
    settings = IngestSettings.from_env(base_env)
    assert webhook.secret_keys == (settings.common.service_token,)
    assert "secret_keys" not in repr(webhook) and webhook.secret_keys[0] not in repr(webhook)


def test_webhook_settings_from_the_environment(base_env: dict[str, str]) -> None:
    webhook = IngestSettings.from_env(
        {
            **base_env,
            "LIENTHONG_INGEST_DATABASE_URL": "postgresql://postgres@db/ingest",
            "LIENTHONG_WEBHOOK_CONNECT_TIMEOUT": "0.5",
            "LIENTHONG_WEBHOOK_TIMEOUT": "2",
            "LIENTHONG_WEBHOOK_MAX_AGE": "3600",
            "LIENTHONG_WEBHOOK_BACKOFF_BASE": "0.01",
            "LIENTHONG_WEBHOOK_BACKOFF_CAP": "0.05",
            "LIENTHONG_WEBHOOK_CONCURRENCY": "2",
            "LIENTHONG_WEBHOOK_SECRET_KEY": "k" * 16 + ", " + "o" * 20,
        }
    ).webhook
    assert (webhook.connect_timeout, webhook.read_timeout, webhook.max_age) == (0.5, 2.0, 3600)
    assert (webhook.backoff_base, webhook.backoff_cap, webhook.concurrency) == (0.01, 0.05, 2)
    assert not webhook.allow_loopback  # PostgreSQL: not the embedded shape
    assert webhook.secret_keys == ("k" * 16, "o" * 20)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("off", False)])
def test_loopback_can_be_set_either_way(
    base_env: dict[str, str], value: str, expected: bool
) -> None:
    env = {**base_env, "LIENTHONG_WEBHOOK_ALLOW_LOOPBACK": value}
    assert IngestSettings.from_env(env).webhook.allow_loopback is expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEBHOOK_TIMEOUT", "soon"),
        ("WEBHOOK_TIMEOUT", "0"),
        ("WEBHOOK_TIMEOUT", "nan"),
        ("WEBHOOK_MAX_AGE", "-1"),
        ("WEBHOOK_BACKOFF_CAP", "inf"),
        ("WEBHOOK_ALLOW_LOOPBACK", "maybe"),
        ("WEBHOOK_CONCURRENCY", "0"),
        ("WEBHOOK_SECRET_KEY", "short"),
        ("WEBHOOK_SECRET_KEY", " , "),
    ],
)
def test_bad_webhook_settings_name_their_variable(
    base_env: dict[str, str], name: str, value: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        IngestSettings.from_env({**base_env, f"LIENTHONG_{name}": value})
    assert f"LIENTHONG_{name}" in caught.value.detail

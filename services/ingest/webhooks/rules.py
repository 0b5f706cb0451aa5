"""Push delivery (webhooks), the parts with no I/O: event names, the URL rules, the
signature and its verification, the retry schedule and the secrets' encryption at rest.

A receiver checks a request like this (see README, "Push delivery")::

    from services.ingest.webhooks.rules import verify_webhook_signature

    ok = verify_webhook_signature(
        secret,                                      # given once by PUT /v1/webhook
        request.headers["X-LienThong-Timestamp"],
        request.get_data(),                          # the raw body bytes, before parsing
        request.headers["X-LienThong-Signature"],
    )
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.common.errors import LienThongError, ValidationFailed
from services.ingest.webhooks.addresses import (
    Network,
    address_problem,
    host_address,
)

# --- events and headers -----------------------------------------------------------

EVENT_RECEIVED = "delivery.received"  # a new delivery landed in the agency's inbox
EVENT_STATUS = "delivery.status_changed"  # a status on a delivery it receives or sent
EVENT_DUE_SOON = "delivery.due_soon"  # a delivery it must handle is nearly due
EVENT_OVERDUE = "delivery.overdue"  # a delivery it receives, or sent, is past due
EVENTS = (EVENT_RECEIVED, EVENT_STATUS, EVENT_DUE_SOON, EVENT_OVERDUE)

HEADER_EVENT = "X-LienThong-Event"
HEADER_DELIVERY = "X-LienThong-Delivery"  # the job id: the same on every retry
HEADER_TIMESTAMP = "X-LienThong-Timestamp"  # unix seconds when this attempt was signed
HEADER_SIGNATURE = "X-LienThong-Signature"  # sha256=<hex HMAC-SHA256(secret, "{ts}.{body}")>
HEADER_ATTEMPT = "X-LienThong-Attempt"

REPLAY_WINDOW = 300  # seconds a receiver should accept between our timestamp and its clock
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- signatures -------------------------------------------------------------------


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def sign(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """The X-LienThong-Signature value: ``sha256=`` and the hex HMAC-SHA256 of
    ``"{timestamp}.{body}"`` keyed with the agency's secret."""
    message = str(timestamp).encode("ascii") + b"." + _as_bytes(body)
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook_signature(
    secret: str,
    timestamp: int | str | None,
    body: bytes | str,
    header: str | None,
    now: float | None = None,
    window: float = REPLAY_WINDOW,
) -> bool:
    """True when ``header`` is our signature of exactly ``body`` at ``timestamp``, and
    ``timestamp`` is within ``window`` seconds of ``now`` (default: this machine's clock).

    Pass the raw body bytes as received, not re-serialized JSON. The comparison runs in
    constant time. A receiver should also drop an ``X-LienThong-Delivery`` id it has
    already processed: a retry after a lost answer carries the same id.
    """
    if not secret or header is None or timestamp is None:
        return False
    text = str(timestamp).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        return False
    moment = int(text)
    current = time.time() if now is None else now
    if abs(current - moment) > window:
        return False  # too old (a replay) or from the future
    expected = sign(secret, moment, body)
    return hmac.compare_digest(expected.encode("ascii"), header.strip().encode("utf-8"))


# --- retries ----------------------------------------------------------------------


def backoff_delay(
    attempts: int, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after ``attempts`` failed attempts: exponential backoff with
    full jitter, uniform in [0, min(cap, base * 2 ** (attempts - 1))]."""
    ceiling = min(cap, base * 2.0 ** min(max(attempts, 1) - 1, 60))
    return ceiling * min(max(rng(), 0.0), 1.0)


# --- URLs -------------------------------------------------------------------------

MAX_URL_LENGTH = 2000


def _is_loopback_name(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost")


def check_webhook_url(
    url: object, *, allow_loopback: bool, allow_networks: Sequence[Network] = ()
) -> str:
    """The URL as it will be used, or ValidationFailed naming what is wrong.

    Only http and https; a host is required; no user name or password in the URL; no
    fragment. A numeric host, in any form a resolver accepts (``0xa9fea9fe``,
    ``2852039166``, ``169.254.169.254.``), must pass the address rule of
    ``addresses``. A host name is resolved and checked by the caller (registration)
    and again at each send, by the connection itself."""

    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(
            f"the webhook URL is refused: {message}", [{"field": "url", "message": message}]
        )

    if not isinstance(url, str) or not url.strip():
        raise refuse("is required")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise refuse("contains spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as e:  # "http://[", a bracketed host that is not IPv6
        raise refuse(f"cannot be read ({e})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise refuse("must start with https:// (or http://)")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise refuse("must not carry a user name or password; the signature authenticates us")
    if parts.fragment or url.endswith("#"):
        raise refuse("must not have a fragment (#...)")
    host = parts.hostname
    if not host:
        raise refuse("has no host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        raise refuse("has a bad port") from e
    if _is_loopback_name(host):
        if not allow_loopback:
            raise refuse(
                f"{host} is this host (loopback); set LIENTHONG_WEBHOOK_ALLOW_LOOPBACK=true "
                "to allow it"
            )
        return url
    try:
        address = host_address(host)
    except ValueError as e:
        raise refuse(str(e)) from None
    if address is None:
        if not all(label and len(label) <= 63 for label in host.rstrip(".").split(".")):
            raise refuse(f"{host} is not a valid host name")
        return url
    problem = address_problem(address, allow_loopback=allow_loopback, allow_networks=allow_networks)
    if problem:
        raise refuse(problem)
    return url


def check_events(events: object) -> list[str]:
    """The event filter: a list of known event names; empty or missing means all."""
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ValidationFailed(
            "events must be a list of event names",
            [{"field": "events", "message": f"a list drawn from {list(EVENTS)}"}],
        )
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValidationFailed(
            f"unknown webhook events: {', '.join(unknown)}",
            [{"field": "events", "message": f"known events are {list(EVENTS)}"}],
        )
    return [e for e in EVENTS if e in events]


# --- secrets at rest --------------------------------------------------------------


class SecretUnavailable(LienThongError):
    code = "webhook_secret_unavailable"
    title = "Webhook secret cannot be decrypted"


class SecretBox:
    """Encrypts the agencies' webhook secrets (Fernet: AES-128-CBC + HMAC-SHA256) with
    keys from LIENTHONG_WEBHOOK_SECRET_KEY (default: the service token). We must read
    a secret back to sign with it, so it cannot be hashed like an API key; encrypting
    it keeps a copy of the database (a backup, a replica, a dump) from being enough
    to forge pushes."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("SecretBox needs at least one key")
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in keys])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def reseal(self, sealed: str) -> str:
        """The same secret under the first key (after a key rotation)."""
        try:
            return self._fernet.rotate(sealed.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError) as e:
            raise SecretUnavailable("a webhook secret cannot be decrypted with any key") from e

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError) as e:
            raise SecretUnavailable(
                "the webhook secret cannot be decrypted with LIENTHONG_WEBHOOK_SECRET_KEY "
                "(default: the service token); was it changed without keeping the old one?"
            ) from e


def _fernet_key(key: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest())

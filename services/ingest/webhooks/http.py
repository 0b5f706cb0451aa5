"""One webhook POST over HTTP, and what its answer means for the push.

2xx: delivered. A network error, a timeout, 5xx or 429: retry (honouring a
``Retry-After`` in seconds). 3xx (redirects are not followed) and every other 4xx:
permanent, the push is dead.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies, select_proxy

from services.ingest.settings import WebhookSettings
from services.ingest.webhooks.network import AddressGuard, AddressRefused, GuardedAdapter


@dataclass(frozen=True)
class Outcome:
    delivered: bool = False
    retry: bool = False  # a transient failure; otherwise a failure is permanent
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None


Transport = Callable[[str, bytes, dict[str, str]], Outcome]


# --- one POST ---------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None  # an HTTP date: our own backoff will do
    return max(seconds, 0.0) if seconds is not None and math.isfinite(seconds) else None


def classify(status: int, text: str, retry_after: str | None = None) -> Outcome:
    if 200 <= status < 300:
        return Outcome(delivered=True, status=status)
    error = f"HTTP {status}" + (f": {text}" if text else "")
    if status == 429 or status >= 500:
        wait = _retry_after(retry_after)
        return Outcome(retry=True, status=status, error=error, retry_after=wait)
    if 300 <= status < 400:
        error = f"HTTP {status}: redirects are not followed; register the final URL"
    return Outcome(status=status, error=error)


class HttpTransport:
    """POSTs with ``requests``: connect and read timeouts, no redirects, at most 1 KiB
    of the answer kept for the error message. Each connection goes only to an address
    ``guard`` checked (see ``network``); a refused address kills the push."""

    def __init__(self, settings: WebhookSettings, guard: AddressGuard | None = None) -> None:
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.guard = guard or guard_for(settings)
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()  # HTTPS_PROXY and a CA bundle from the environment apply
            adapter = GuardedAdapter(self.guard)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session

    def _proxied_problem(self, url: str) -> str | None:
        """Through a proxy the proxy connects, not us: refuse a name that resolves here
        to a refused address (one that does not resolve here is the proxy's to judge)."""
        if not select_proxy(url, get_environ_proxies(url)):
            return None
        try:
            self.guard.addresses(urlsplit(url).hostname or "")
        except AddressRefused as e:
            return str(e)
        except OSError:
            pass
        return None

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        problem = self._proxied_problem(url)
        if problem:
            return Outcome(error=f"refused: {problem}")
        try:
            with self._session().post(
                url,
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            ) as response:
                text = response.raw.read(1024, decode_content=True).decode("utf-8", "replace")
                return classify(
                    response.status_code, text.strip(), response.headers.get("Retry-After")
                )
        except AddressRefused as e:
            return Outcome(error=f"refused: {e}")
        except requests.Timeout as e:
            return Outcome(retry=True, error=f"timed out: {e}")
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as e:
            return Outcome(error=f"bad URL: {e}")
        except (requests.RequestException, OSError) as e:
            return Outcome(retry=True, error=f"{type(e).__name__}: {e}")


def guard_for(settings: WebhookSettings) -> AddressGuard:
    """The deployment's address rule, with the system resolver."""
    return AddressGuard(
        allow_loopback=settings.allow_loopback, allow_networks=settings.allow_networks
    )

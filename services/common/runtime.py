"""Runs services: each one's HTTP app (waitress) and its bus workers, in one process."""

from __future__ import annotations

import hmac
import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import create_server
from waitress.utilities import Error, RequestEntityTooLarge

log = logging.getLogger(__name__)

Worker = Callable[[threading.Event], None]

#: The body limit of an app that sets no MAX_CONTENT_LENGTH of its own: signing takes
#: PDFs of up to 512 MiB to sign. Never unbounded.
DEFAULT_MAX_BODY = 513 * 1024 * 1024


@dataclass(frozen=True)
class RequestHead:
    """A request as waitress has it once the headers are read, before any of the body."""

    method: str
    path: str
    headers: Mapping[str, str]  # waitress's keys: upper case, "-" as "_" (AUTHORIZATION)
    content_length: int  # 0 for a chunked body (its size is not known yet)
    chunked: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or self.content_length > 0

    @property
    def bearer(self) -> str | None:
        """The token of ``Authorization: Bearer <token>``, or None."""
        scheme, _, token = self.headers.get("AUTHORIZATION", "").partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


class Refusal(Error):  # type: ignore[misc]
    """An answer given from the headers alone: the body is never read, and the connection
    is closed after it (waitress answers its own errors the same way)."""

    def __init__(self, code: int, reason: str, detail: str, element: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.reason = reason
        self.element = element  # where a structured body (an edXML package) was wrong

    def to_response(self, ident: str | None = None) -> tuple[str, list[tuple[str, str]], bytes]:
        problem = {
            "type": "about:blank",
            "title": self.reason,
            "status": self.code,
            "detail": self.body,
            "code": self.reason.lower().replace(" ", "_"),
        }
        if self.element is not None:
            problem["element"] = self.element
        headers = [
            ("Content-Type", "application/problem+json"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
        ]
        return f"{self.code} {self.reason}", headers, json.dumps(problem).encode()


#: Looks at a request's head and refuses it (or lets it through with None).
Gate = Callable[[RequestHead], Refusal | None]
_GATE = "lienthong.request_gate"


def service_gate(token: str, max_bytes: int, *, public: Mapping[str, int] | None = None) -> Gate:
    """The gate of a service that takes bodies from the platform's own services only:
    the service token and at most ``max_bytes``, both checked before the body is read.
    ``public`` names path prefixes anyone may send a body to, each with its own cap
    (the PKI's OCSP responder and time-stamp authority)."""
    open_paths = dict(public or {})

    def gate(head: RequestHead) -> Refusal | None:
        if not head.has_body:
            return None
        for prefix, cap in open_paths.items():
            if head.path.startswith(prefix):
                if head.content_length > cap:
                    return Refusal(413, "Payload Too Large", "the body is larger than the limit")
                return None
        if head.bearer is None or not hmac.compare_digest(head.bearer.encode(), token.encode()):
            return Refusal(401, "Unauthorized", "this endpoint is for the platform's own services")
        if head.content_length > max_bytes:
            return Refusal(413, "Payload Too Large", "the body is larger than the limit")
        return None

    return gate


def set_request_gate(app: Flask, gate: Gate) -> None:
    """Checks the app wants made before waitress reads a body: who calls, what size."""
    app.extensions[_GATE] = gate


def body_limit(app: Flask) -> int:
    """The largest body the app takes: its MAX_CONTENT_LENGTH, else DEFAULT_MAX_BODY."""
    limit = app.config.get("MAX_CONTENT_LENGTH")
    return int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_BODY


def _head_check(app: Flask) -> Gate:
    gate: Gate | None = app.extensions.get(_GATE)

    def check(head: RequestHead) -> Refusal | None:
        if head.chunked and "CONTENT_LENGTH" in head.headers:
            # RFC 9112 6.3: a message with both is a smuggling attempt or a broken client.
            return Refusal(400, "Bad Request", "Transfer-Encoding and Content-Length together")
        if gate is None:
            return None
        try:
            return gate(head)
        except Exception:  # the app checks again, and answers properly
            log.exception("the request gate failed on %s %s", head.method, head.path)
            return None

    return check


def _gated_channel(check: Gate) -> type[HTTPChannel]:
    class GatedParser(HTTPRequestParser):  # type: ignore[misc]
        def received(self, data: bytes) -> int:
            had_headers = self.headers_finished
            consumed = int(super().received(data))
            if had_headers or not self.headers_finished or self.empty:
                return consumed
            error = getattr(self, "error", None)
            # A declared size over the limit is refused already; a missing key is said first.
            if error is not None and not isinstance(error, RequestEntityTooLarge):
                return consumed
            chunked = bool(self.chunked)
            refusal = check(
                RequestHead(
                    method=str(self.command or ""),
                    path=str(self.path or ""),
                    headers=dict(self.headers),
                    content_length=0 if chunked else int(self.content_length or 0),
                    chunked=chunked,
                )
            )
            if refusal is not None:
                self.error = refusal
                self.completed = True
                self.expect_continue = False  # no "100 Continue": we do not want the body
                self.connection_close = True
            return consumed

    class GatedChannel(HTTPChannel):  # type: ignore[misc]
        parser_class = GatedParser

    return GatedChannel


def http_server(service: Service, *, threads: int = 8) -> Any:
    """The service's waitress server: bodies above the app's limit are refused from their
    Content-Length (413) or cut off at the limit (chunked), and the app's gate sees each
    request's headers before waitress reads (and spools to disk) any of its body."""
    server = create_server(
        service.app,
        host=service.host,
        port=service.port,
        threads=threads,
        ident=f"lienthong-{service.name}",
        # waitress refuses a body of this size or more; the app's limit itself is allowed.
        max_request_body_size=body_limit(service.app) + 1,
        clear_untrusted_proxy_headers=True,
    )
    server.channel_class = _gated_channel(_head_check(service.app))
    return server


@dataclass
class Service:
    name: str
    app: Flask
    host: str
    port: int
    workers: dict[str, Worker] = field(default_factory=dict)
    prepare: list[Callable[[], None]] = field(default_factory=list)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Runner:
    """Starts services' HTTP servers and workers; stops them all on SIGINT/SIGTERM."""

    def __init__(
        self, services: list[Service], *, http_threads: int = 8, serve_http: bool = True
    ) -> None:
        self.services = services
        self.serve_http = serve_http
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._servers: list[Any] = []
        self.http_threads = http_threads

    def start(self) -> None:
        for service in self.services:
            for step in service.prepare:
                try:
                    step()
                except Exception as e:  # the workers retry on their own
                    log.warning("%s: preparing failed, will retry: %s", service.name, e)
        for service in self.services:
            if not self.serve_http:
                for name, worker in service.workers.items():
                    self._spawn(f"{service.name}-{name}", worker)
                log.info("%s: bus workers only (%s)", service.name, ", ".join(service.workers))
                continue
            server = http_server(service, threads=self.http_threads)
            self._servers.append(server)
            self._spawn(f"{service.name}-http", _serving(server))
            for name, worker in service.workers.items():
                self._spawn(f"{service.name}-{name}", worker)
            log.info("%s listening on %s", service.name, service.url)

    def _spawn(self, name: str, target: Worker) -> None:
        def guarded() -> None:
            try:
                target(self.stop)
            except Exception:
                log.exception("%s stopped with an error", name)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def shutdown(self) -> None:
        self.stop.set()
        for server in self._servers:
            server.close()
            # Idle keep-alive connections would keep waitress's loop (and us) alive.
            for channel in list(server._map.values()):
                channel.close()
            server.task_dispatcher.shutdown(timeout=5)
        for thread in self._threads:
            thread.join(timeout=10)
        for service in self.services:
            for close in service.on_close:
                close()

    def run_forever(self) -> None:
        def _signal(signum: int, _frame: Any) -> None:
            log.info("signal %d: stopping", signum)
            self.stop.set()

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)
        self.start()
        try:
            while not self.stop.wait(0.5):
                pass
        finally:
            self.shutdown()


def _serving(server: Any) -> Worker:
    def run(_stop: threading.Event) -> None:
        server.run()

    return run

"""Runs services: each one's HTTP app (waitress) and its bus workers, in one process."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from waitress.server import create_server

log = logging.getLogger(__name__)

Worker = Callable[[threading.Event], None]


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
            server = create_server(
                service.app,
                host=service.host,
                port=service.port,
                threads=self.http_threads,
                ident=f"lienthong-{service.name}",
                max_request_body_size=2**40,
                clear_untrusted_proxy_headers=True,
            )
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

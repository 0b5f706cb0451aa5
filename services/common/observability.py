"""``/metrics`` in Prometheus format on every service (prometheus-client): request
latency and errors per route, the outbox backlog, the bus queues (depth, consumers,
dead letters) and what each service adds of its own (routing: deliveries per status,
the e-share per province).

Each app has its own registry (tests build many apps in one process). Gauges that
need a query or a broker round trip are read at scrape time, at most every
``cache_seconds``, and a source that fails is reported as down, never as an error
of the scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common.bus.tables import BusTables
from services.common.db import Database
from services.common.settings import BrokerSettings

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REGISTRY = "lienthong.metrics"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Families = Callable[[], Iterable[Metric]]


class Source:
    """Metric families read by ``read`` at most every ``cache_seconds``."""

    def __init__(self, name: str, read: Families, cache_seconds: float = 10.0) -> None:
        self.name = name
        self.read = read
        self.cache_seconds = cache_seconds
        self._at = -1e18
        self.families: list[Metric] = []
        self.up = 1.0

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._at < self.cache_seconds:
            return
        self._at = now
        try:
            self.families, self.up = list(self.read()), 1.0
        except Exception:
            log.warning("metrics source %s failed", self.name, exc_info=True)
            self.families, self.up = [], 0.0


class SourcesCollector(Collector):
    """The sources' families, and ``lienthong_metrics_source_up{source}``: 0 when a
    source failed (then nothing else is told of it)."""

    def __init__(self, sources: Iterable[Source]) -> None:
        self.sources = list(sources)

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: registering must not read the sources (a query, a broker
        round trip) while the app is being built."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "lienthong_metrics_source_up", "1 when the source was read", labels=["source"]
        )
        families: list[Metric] = []
        for source in self.sources:
            source.refresh()
            up.add_metric([source.name], source.up)
            families += source.families
        yield up
        yield from families


def outbox_families(db: Database, tables: BusTables) -> Families:
    """The outbox backlog (not yet published, and how old the oldest is) and the
    consumers' messages being retried."""

    def read() -> Iterable[Metric]:
        outbox, failures = tables.outbox, tables.failures
        with db.reading() as session:
            backlog, oldest = session.execute(
                sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)).where(
                    outbox.c.published_at.is_(None)
                )
            ).one()
            retrying = session.execute(
                sa.select(failures.c.consumer, sa.func.count()).group_by(failures.c.consumer)
            ).all()
        size = GaugeMetricFamily("lienthong_outbox_backlog", "Messages not yet published")
        size.add_metric([], backlog)
        age = GaugeMetricFamily(
            "lienthong_outbox_oldest_age_seconds", "Age of the oldest unpublished message"
        )
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            age.add_metric([], max((datetime.now(UTC) - oldest).total_seconds(), 0.0))
        else:
            age.add_metric([], 0.0)
        failing = GaugeMetricFamily(
            "lienthong_consumer_retrying_messages",
            "Messages a consumer failed on and will retry (or dead-letter)",
            labels=["consumer"],
        )
        for consumer, n in retrying:
            failing.add_metric([consumer], n)
        return [size, age, failing]

    return read


def bus_families(broker: BrokerSettings, queues: Sequence[str]) -> Families:
    """Each queue's depth (the consumer's lag, in messages) and consumer count, and
    the dead letters (the depth of ``lt.dead``), by passive declarations."""

    def read() -> Iterable[Metric]:
        from kombu import Connection

        from services.common.bus import filesystem

        depth = GaugeMetricFamily(
            "lienthong_queue_messages", "Messages ready in a queue (consumer lag)", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "lienthong_queue_consumers", "Consumers attached to a queue", labels=["queue"]
        )
        dead = GaugeMetricFamily("lienthong_dead_letters", "Messages in lt.dead")
        transport = filesystem.Transport if broker.url.startswith("filesystem:") else None
        with Connection(
            broker.url,
            transport=transport,
            transport_options=dict(broker.transport_options),
            connect_timeout=2,
        ) as connection:
            channel = connection.channel()
            try:
                for name in [*queues, "lt.dead"]:
                    try:
                        _, messages, attached = channel.queue_declare(queue=name, passive=True)
                    except Exception:  # not declared yet: nothing waits in it
                        channel = connection.channel()
                        messages, attached = 0, 0
                    if name == "lt.dead":
                        dead.add_metric([], messages)
                    depth.add_metric([name], messages)
                    consumers.add_metric([name], attached)
            finally:
                channel.close()
        return [depth, consumers, dead]

    return read


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def observe(app: Flask, service: str, sources: Iterable[Source] = ()) -> CollectorRegistry:
    """Time every request and count its errors per route; serve ``GET /metrics``."""
    registry = CollectorRegistry(auto_describe=True)
    latency = Histogram(
        "lienthong_http_request_duration_seconds",
        "Time to answer a request",
        ["service", "method", "route"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    errors = Counter(
        "lienthong_http_request_errors",
        "Requests answered with a 4xx or 5xx status",
        ["service", "method", "route", "status"],
        registry=registry,
    )
    registry.register(SourcesCollector(sources))
    app.extensions[_REGISTRY] = registry

    @app.before_request
    def _start() -> None:
        g.lienthong_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("lienthong_started")
        if started is not None:
            route = _route()
            latency.labels(service, request.method, route).observe(time.perf_counter() - started)
            if response.status_code >= 400:
                errors.labels(service, request.method, route, str(response.status_code)).inc()
        return response

    metrics = Blueprint(f"{service}_metrics", __name__)

    @metrics.get("/metrics")
    def scrape() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE.split(";")[0])

    app.register_blueprint(metrics)
    return registry


def standard_sources(
    service: str, db: Database, tables: BusTables, broker: BrokerSettings, queues: Sequence[str]
) -> list[Source]:
    """What every service reports: its outbox and its queues."""
    return [
        Source(f"{service}-outbox", outbox_families(db, tables)),
        Source(f"{service}-bus", bus_families(broker, queues)),
    ]

"""The routing figures' options and results (bench.routing measures them,
bench.routing_report writes them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.environment import RECIPIENTS
from bench.routing_raw import RawRun

FANOUT = RECIPIENTS[:3]  # every document of (b) and (d) goes to three agencies


@dataclass(frozen=True)
class RoutingOptions:
    raw_messages: int = 3000
    raw_publishers: tuple[int, ...] = (1, 4)
    saturation_docs: int = 600
    client_threads: int = 8
    rates: tuple[float, ...] = (20.0, 50.0, 200.0)
    rate_seconds: float = 15.0
    scale_docs: int = 1500
    routing_processes: tuple[int, ...] = (1, 2, 4)
    drain_timeout: float = 300.0


# --- results -------------------------------------------------------------------


@dataclass
class CpuShare:
    name: str
    seconds: float


@dataclass
class Saturation:
    docs: int
    recipients: int
    threads: int
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    send_seconds: float = 0.0  # first POST → last 201
    delivered: int = 0
    end_to_end_seconds: float = 0.0  # first POST → last arrival in an inbox
    settled_seconds: float = 0.0  # first POST → every queue and outbox empty again
    latencies: list[float] = field(default_factory=list)  # accepted → in the inbox
    cpu: list[CpuShare] = field(default_factory=list)
    cpu_window: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy during the window
    busy_core_seconds: float = 0.0
    messages: dict[str, int] = field(default_factory=dict)  # outbox rows per service
    lock_waits: dict[str, float] = field(default_factory=dict)  # mean sessions waiting, per db

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.send_seconds if self.send_seconds else 0.0

    @property
    def deliveries_per_second(self) -> float:
        return self.delivered / self.end_to_end_seconds if self.end_to_end_seconds else 0.0

    @property
    def settled_per_second(self) -> float:
        return self.delivered / self.settled_seconds if self.settled_seconds else 0.0


@dataclass
class Paced:
    rate: float
    seconds: float
    scheduled: int = 0
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    send_seconds: float = 0.0
    late_starts: int = 0  # POSTs that began more than 100 ms after their slot
    delivered: int = 0
    accepted_to_inbox: list[float] = field(default_factory=list)
    intended_to_inbox: list[float] = field(default_factory=list)
    post_latencies: list[float] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        return self.accepted / self.send_seconds if self.send_seconds else 0.0


@dataclass
class Drain:
    processes: int
    docs: int
    deliveries: int = 0
    delivered: int = 0
    start_to_last: float = 0.0  # routing processes started → last arrival
    routed_to_last: float = 0.0  # routing made its first exchange → last arrival
    first_to_last: float = 0.0  # first arrival → last arrival
    start_to_idle: float = 0.0  # routing processes started → every status 01 recorded, idle
    machine_busy: float = 0.0  # share of all cores busy from the start to idle
    routing_lock_waits: float = 0.0  # mean routing sessions waiting on a row lock meanwhile
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.delivered / self.first_to_last if self.first_to_last else 0.0

    @property
    def per_second_routed(self) -> float:
        """Accepted → in the inbox, from a backlog: the pipeline's own rate."""
        return self.delivered / self.routed_to_last if self.routed_to_last else 0.0

    @property
    def per_second_with_start(self) -> float:
        return self.delivered / self.start_to_last if self.start_to_last else 0.0

    @property
    def per_second_to_idle(self) -> float:
        return self.delivered / self.start_to_idle if self.start_to_idle else 0.0


@dataclass
class RoutingResults:
    options: RoutingOptions
    envelope_bytes: int = 0
    pdf_bytes: int = 0
    raw: list[RawRun] = field(default_factory=list)
    raw_cpu_ms: dict[int, float] = field(default_factory=dict)  # publishers → machine CPU/msg
    saturation: Saturation | None = None
    paced: list[Paced] = field(default_factory=list)
    drains: list[Drain] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def raw_rate(self) -> float:
        base = next((r for r in self.raw if r.publishers == 1), None)
        return base.messages_per_second if base else float("nan")

    @property
    def ratio(self) -> float:
        """Accepted → in the inbox (one routing process draining a backlog) ÷ raw."""
        one = next((d for d in self.drains if d.processes == 1), None)
        if one is None or not one.per_second_routed:
            return float("nan")
        return one.per_second_routed / self.raw_rate

    @property
    def saturation_ratio(self) -> float:
        """Upload → in the inbox, the uploads on the same cores (b) ÷ raw."""
        if self.saturation is None:
            return float("nan")
        return self.saturation.deliveries_per_second / self.raw_rate

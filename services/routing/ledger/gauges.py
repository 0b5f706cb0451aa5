"""Routing's own Prometheus gauges: deliveries per status, and the e-document share
of each top-level agency (province, ministry: no parent in the registry) with the
agencies below it, over the current Vietnam quarter so far."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric

from services.common.db import Database
from services.routing.ledger.rules import vietnam_day
from services.routing.ledger.scope import registry
from services.routing.models import Delivery, LedgerDaily


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def roots(parents: dict[str, str | None]) -> dict[str, str]:
    """Each agency's top-level agency (itself when it has no parent; a cycle or a
    parent missing from the registry stops the climb)."""
    top: dict[str, str] = {}
    for code in parents:
        seen = {code}
        current = code
        while (parent := parents.get(current)) is not None and parent in parents:
            if parent in seen:
                break
            seen.add(parent)
            current = parent
        top[code] = current
    return top


def delivery_families(db: Database) -> Iterable[Metric]:
    with db.reading() as session:
        rows = session.execute(
            sa.select(Delivery.status, sa.func.count()).group_by(Delivery.status)
        ).all()
    family = GaugeMetricFamily(
        "lienthong_deliveries", "Deliveries per current status", labels=["status"]
    )
    for status, n in rows:
        family.add_metric([status or "dispatched"], n)
    return [family]


def e_share_families(db: Database, now: datetime | None = None) -> Iterable[Metric]:
    today = vietnam_day(now or datetime.now(UTC))
    with db.reading() as session:
        top = roots(registry(session))
        rows = session.execute(
            sa.select(
                LedgerDaily.agency,
                sa.func.sum(LedgerDaily.exchanges),
                sa.func.sum(LedgerDaily.fully_electronic),
                sa.func.sum(LedgerDaily.signed),
            )
            .where(LedgerDaily.day >= quarter_start(today))
            .group_by(LedgerDaily.agency)
        ).all()
    sums: dict[str, Counter[str]] = {}
    for agency, exchanges, fully, signed in rows:
        counts = sums.setdefault(top.get(agency, agency), Counter())
        counts.update({"exchanges": exchanges or 0, "fully": fully or 0, "signed": signed or 0})
    labels = ["province"]
    exchanges_f = GaugeMetricFamily(
        "lienthong_e_share_exchanges", "Exchanges sent this quarter (Vietnam days)", labels=labels
    )
    fully_f = GaugeMetricFamily(
        "lienthong_e_share_fully_electronic",
        "Fully electronic exchanges this quarter",
        labels=labels,
    )
    share_f = GaugeMetricFamily(
        "lienthong_e_share_ratio", "Share of fully electronic exchanges this quarter", labels=labels
    )
    signed_f = GaugeMetricFamily(
        "lienthong_e_share_signed_ratio", "Share signed by the sending organization", labels=labels
    )
    for province, counts in sorted(sums.items()):
        exchanges_f.add_metric([province], counts["exchanges"])
        fully_f.add_metric([province], counts["fully"])
        if counts["exchanges"]:
            share_f.add_metric([province], counts["fully"] / counts["exchanges"])
            signed_f.add_metric([province], counts["signed"] / counts["exchanges"])
    return [exchanges_f, fully_f, share_f, signed_f]

"""Routing's database for the e-share bench: generated and rebuilt each run, or kept
as a PostgreSQL template (``--eshare-keep``) and copied for each run, so that the ten
minutes of generation and rebuild are spent once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy as sa

from bench.eshare_data import BENCH, GENERATION, generate
from services.common.db import Database
from services.common.wiring import migrate
from services.routing.ledger.rebuild import rebuild
from testkit.infra import PG_ADMIN_URL, postgres_databases

if TYPE_CHECKING:
    from bench.eshare import EShareResults


def _generate_and_rebuild(url: str, res: EShareResults) -> None:
    migrate("routing", url)
    db = Database(url)
    try:
        print(f"  … generating {res.options.exchanges} exchanges × 3 deliveries", flush=True)
        began = time.perf_counter()
        with db.unit_of_work() as session:
            res.counts = generate(session.connection(), res.options.exchanges, res.options.layout)
        res.generate_seconds = time.perf_counter() - began
        print(f"    {res.counts} in {res.generate_seconds:.0f} s", flush=True)
        print("  … full rebuild of the ledger", flush=True)
        began = time.perf_counter()
        done = rebuild(db)
        res.rebuild_seconds = time.perf_counter() - began
        res.rebuilt = {
            "exchanges": done.exchanges,
            "deliveries": done.deliveries,
            "daily rows": done.daily_rows,
            "latency rows": done.latency_rows,
        }
        print(f"    {res.rebuilt} in {res.rebuild_seconds:.0f} s", flush=True)
    finally:
        db.dispose()
    # What autovacuum does to a settled database (visibility map, statistics).
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


@contextmanager
def routing_database(res: EShareResults) -> Iterator[str]:
    """Routing's database, generated and rebuilt: fresh each run, or (keep_template)
    a copy of a kept template, made once (its generation and rebuild times and counts
    are kept beside it and reported again)."""
    if not res.options.keep_template:
        with postgres_databases(("routing",)) as urls:
            _generate_and_rebuild(urls["routing"], res)
            yield urls["routing"]
        return
    layout = res.options.layout
    agencies = "" if layout == BENCH else f"_a{layout.size}"
    template = f"lt_bench_eshare_{res.options.exchanges}{agencies}_g{GENERATION}"
    admin = sa.create_engine(PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    copy = f"{template}_run_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as c:
            exists = c.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (template,)
            ).first()
            if exists and _template_meta(f"{base}/{template}", res) is None:
                c.exec_driver_sql(f'DROP DATABASE "{template}" WITH (FORCE)')  # unfinished
                exists = None
            if not exists:
                c.exec_driver_sql(f'CREATE DATABASE "{template}"')
                try:
                    _generate_and_rebuild(f"{base}/{template}", res)
                    _save_meta(f"{base}/{template}", res)
                except BaseException:
                    c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                    raise
            else:
                print(f"  … a copy of the kept database {template}", flush=True)
            c.exec_driver_sql(f'CREATE DATABASE "{copy}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        try:
            migrate("routing", f"{base}/{copy}")  # a template older than a new migration
            yield f"{base}/{copy}"
        finally:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    finally:
        admin.dispose()


_META = "bench_eshare_meta"


def _save_meta(url: str, res: EShareResults) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {_META} (facts json NOT NULL)")
        facts = {
            "counts": res.counts,
            "generate_seconds": res.generate_seconds,
            "rebuild_seconds": res.rebuild_seconds,
            "rebuilt": res.rebuilt,
        }
        c.execute(sa.text(f"INSERT INTO {_META} VALUES (:f)"), {"f": json.dumps(facts)})
    engine.dispose()


def _template_meta(url: str, res: EShareResults) -> dict[str, object] | None:
    """The kept template's generation facts (into ``res``), or None when it has none
    (its generation did not finish)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            if c.exec_driver_sql(f"SELECT to_regclass('{_META}')").scalar() is None:
                return None
            facts = json.loads(c.exec_driver_sql(f"SELECT facts::text FROM {_META}").scalar_one())
    finally:
        engine.dispose()
    res.counts = facts["counts"]
    res.generate_seconds = facts["generate_seconds"]
    res.rebuild_seconds = facts["rebuild_seconds"]
    res.rebuilt = facts["rebuilt"]
    return dict(facts)

"""Synthetic exchanges for the e-share bench, generated inside PostgreSQL
(``generate_series``): 200 agencies (a national office over 7 ministries and 12
provinces, each province with 4 departments and 11 communes; ``COUNTRY``: 3,520,
about the country's registry), N exchanges evenly
over two years (from 1 January 2025, Vietnam time), 3 deliveries each, their status
events, and the signing verdicts.

Per delivery (from a hash of its number): 3% never arrive, 7% arrive only (01), 2%
are rejected (01, 02), 43% are registered (01, 03), 45% registered and completed
(01, 03, 06). A third of the exchanges carry a DueDate ten days after sending; 5%
a paper copy; 80% the organization's signature; 4% are scans; 1% never got a
verdict. The deadline notices of what was overdue by the time of generation count as
given (``settle_notices``), as routing's scanner gives them while the work piles up.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

#: Changes with what ``generate`` writes (a kept template of another one is not reused):
#: 2, the overdue notices settled.
GENERATION = 2
START = "2025-01-01 00:00:00+07"
DAYS = 730


@dataclass(frozen=True)
class BenchAgency:
    code: str
    name: str
    parent: str | None


@dataclass(frozen=True)
class Layout:
    """The synthetic registry: a national office over ministries and provinces, each
    province with its departments and communes."""

    ministries: int
    provinces: int
    departments: int  # per province
    communes: int  # per province

    @property
    def size(self) -> int:
        return 1 + self.ministries + self.provinces * (1 + self.departments + self.communes)

    def describe(self) -> str:
        return (
            f"{self.size:,} agencies (a national office over {self.ministries} ministries and "
            f"{self.provinces} provinces, each with {self.departments} departments and "
            f"{self.communes} communes)"
        )


#: The issue's scale: 200 agencies.
BENCH = Layout(ministries=7, provinces=12, departments=4, communes=11)
#: About the country's registry since the 2025 reform (34 provinces, some 3,300
#: communes), with the ministries and each province's departments: 3,520 agencies.
COUNTRY = Layout(ministries=17, provinces=34, departments=12, communes=90)


def agencies(layout: Layout = BENCH) -> list[BenchAgency]:
    national = BenchAgency("000.00.00.G00", "Văn phòng Chính phủ", None)
    out = [national]
    out += [
        BenchAgency(f"000.00.00.G{m:02d}", f"Bộ số {m}", national.code)
        for m in range(1, layout.ministries + 1)
    ]
    for p in range(layout.provinces):
        province = BenchAgency(f"000.00.00.H{41 + p}", f"UBND tỉnh số {p + 1}", national.code)
        out.append(province)
        out += [
            BenchAgency(f"000.00.{10 + d}.H{41 + p}", f"Sở {d} tỉnh số {p + 1}", province.code)
            for d in range(1, layout.departments + 1)
        ]
        out += [
            BenchAgency(f"{100 + c}.00.00.H{41 + p}", f"UBND xã {c} tỉnh số {p + 1}", province.code)
            for c in range(1, layout.communes + 1)
        ]
    assert len(out) == layout.size
    return out


def _id(expr: str) -> str:
    """A 36-character id from a number (the columns hold uuids)."""
    return f"lpad(to_hex({expr}), 36, '0')"


def generate(connection: sa.Connection, n: int, layout: Layout = BENCH) -> dict[str, int]:
    """Fill routing's tables (agencies, exchanges, deliveries, status_events,
    signature_verdicts) with the synthetic data; row counts back."""

    def run(sql: str) -> None:
        connection.execute(sa.text(sql))

    listed = agencies(layout)
    size = len(listed)  # 7919 is prime: every agency sends
    connection.execute(
        sa.text(
            "INSERT INTO agencies (code, name, parent_code, nonstandard_code) "
            "VALUES (:code, :name, :parent, false)"
        ),
        [{"code": a.code, "name": a.name, "parent": a.parent} for a in listed],
    )
    run("CREATE TEMP TABLE bench_agency (idx int PRIMARY KEY, code text) ON COMMIT DROP")
    connection.execute(
        sa.text("INSERT INTO bench_agency VALUES (:idx, :code)"),
        [{"idx": i, "code": a.code} for i, a in enumerate(listed)],
    )
    run("ANALYZE bench_agency")
    # One row per delivery with every time decided up front.
    run(
        f"""
        CREATE TEMP TABLE bench_d ON COMMIT DROP AS
        SELECT i, k, i * 4 + k AS dn, s.code AS sender, r.code AS recipient, t,
               CASE WHEN i % 3 = 0
                    THEN ((t AT TIME ZONE 'Asia/Ho_Chi_Minh')::date + 10) END AS due_date,
               h, t + ((h * 37) % 600 + 5) * interval '1 second' AS arrived_at,
               ((h * 7919) % 172800) * interval '1 second' AS to_register,
               ((h * 104729) % 1296000) * interval '1 second' AS to_complete
        FROM generate_series(1::bigint, {n}::bigint) AS i
        CROSS JOIN generate_series(0, 2) AS k
        CROSS JOIN LATERAL (
            SELECT timestamptz '{START}' + ((i - 1)::float8 / {n}) * interval '{DAYS} days' AS t,
                   ((hashint8(i * 4 + k) & 1073741823) % 100000)::bigint AS h
        ) AS x
        JOIN bench_agency s ON s.idx = (i * 7919) % {size}
        JOIN bench_agency r ON r.idx = ((i * 7919) % {size} + 1 + k * 67) % {size}
        """
    )
    run(
        f"""
        INSERT INTO exchanges (document, document_id, sender_code, sha256, size, subject,
            paper, priority, due_date, metadata, received_at, created_at,
            business_doc_type, supersedes)
        SELECT {_id("i")}, sender || ',' || to_char(t, 'YYYY/MM/DD') || ',' || i || '/BENCH',
               sender, md5(i::text) || md5(i::text), 1000, 'Văn bản số ' || i,
               CASE WHEN i % 20 = 7 THEN 1 ELSE 0 END, 0, due_date, '{{}}'::json, t, t, 0, NULL
        FROM bench_d WHERE k = 0
        """
    )
    # Status by h % 100: <3 never arrives, <10 arrives, <12 rejected, <55 registered,
    # else completed.
    run(
        f"""
        INSERT INTO deliveries (id, document, recipient_code, status, before_take_back, seq,
            dispatched_at, arrived_at, status_at, due_at)
        SELECT {_id("dn")}, {_id("i")}, recipient,
               CASE WHEN h % 100 < 3 THEN NULL WHEN h % 100 < 10 THEN '01'
                    WHEN h % 100 < 12 THEN '02' WHEN h % 100 < 55 THEN '03' ELSE '06' END,
               NULL,
               CASE WHEN h % 100 < 3 THEN 0 WHEN h % 100 < 10 THEN 1
                    WHEN h % 100 < 55 THEN 2 ELSE 3 END,
               t, CASE WHEN h % 100 >= 3 THEN arrived_at END,
               CASE WHEN h % 100 < 3 THEN NULL WHEN h % 100 < 12 THEN arrived_at
                    WHEN h % 100 < 55 THEN arrived_at + to_register
                    ELSE arrived_at + to_register + to_complete END,
               CASE WHEN due_date IS NOT NULL
                    THEN (due_date + time '23:59:59') AT TIME ZONE 'Asia/Ho_Chi_Minh' END
        FROM bench_d
        """
    )
    run(
        f"""
        INSERT INTO status_events (delivery_id, seq, code, status_after, at, reported_by,
            description, staff, recorded_at)
        SELECT {_id("dn")}, e.seq, e.code, e.code, e.at, recipient, '', '{{}}'::json, e.at
        FROM bench_d
        CROSS JOIN LATERAL (VALUES
            (1, '01', arrived_at, 3),
            (2, '02', arrived_at + interval '1 minute', -1),
            (2, '03', arrived_at + to_register, 12),
            (3, '06', arrived_at + to_register + to_complete, 55)
        ) AS e(seq, code, at, from_h)
        WHERE (e.code = '02' AND h % 100 >= 10 AND h % 100 < 12)
           OR (e.code <> '02' AND h % 100 >= e.from_h)
        """
    )
    run(
        f"""
        INSERT INTO signature_verdicts (document, sha256, verdict, organization_signed,
            signers, verified_at, scanned)
        SELECT {_id("i")}, md5(i::text) || md5(i::text),
               CASE WHEN i % 10 < 8 THEN 'valid' ELSE 'unsigned' END, i % 10 < 8,
               '[]'::json, t + interval '2 seconds', i % 25 = 3
        FROM bench_d WHERE k = 0 AND i % 100 <> 99
        """
    )
    settle_notices(connection)
    counts = {
        table: int(connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
        for table in ("exchanges", "deliveries", "status_events", "signature_verdicts")
    }
    run("ANALYZE")
    return counts


def settle_notices(connection: sa.Connection) -> int:
    """The overdue notices routing's deadline scanner would have given by now: of the
    work still open past its due time, and of the work completed after it. Without
    them the scanner of a service started on this data works through half a million
    notices (an event, an audit record and emails each) while the bench measures
    something else. Deliveries updated back."""
    done = "('02', '06', '15')"  # routing.deadlines.rules.DONE
    result = connection.execute(
        sa.text(
            f"""
            UPDATE deliveries SET overdue_sent_at = due_at + interval '30 seconds'
            WHERE due_at IS NOT NULL AND due_at <= now() AND overdue_sent_at IS NULL
              AND (status IS NULL OR status NOT IN {done}
                   OR (status = '06' AND status_at > due_at))
            """
        )
    )
    return int(result.rowcount or 0)

"""Latency of typical workflow searches over a large read model.

    . .stack/env && .venv/bin/python scripts/bench_search.py --rows 1000000

Seeds N workflows with COPY into a separate schema (``bench_search`` unless --schema; dropped
at the end unless --keep, reused with --reuse), migrated like the real one (same indexes and
search_text trigger), then runs each search --repeat times with varying values through the
same SQL the API runs (orchestrator/api/search: the capped count, then the page) and prints
p50/p99 in ms (and the p50 of the capped count alone). It measures Postgres, not HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.api.routes_search import COUNT_CAP
from orchestrator.api.search import WORKFLOW_FIELDS, parse_query, parse_sort, workflow_search
from projections.migrate import migrate_url
from tests.readmodel_support import schema_url

DAY_MS = 86_400_000
T0 = 1_760_000_000_000
SPAN_DAYS = 30
TYPES = [f"flow_{i:02d}" for i in range(20)]
STATUSES = ["COMPLETED"] * 80 + ["FAILED"] * 10 + ["RUNNING"] * 5 + ["TERMINATED"] * 3
STATUSES += ["TIMED_OUT", "PAUSED"]
NAMES = [f"customer{i}" for i in range(1000)]
CITIES = ["lyon", "paris", "oslo", "lima", "pune", "kyoto", "accra", "quito"]
COLUMNS = (
    "workflow_id, root_workflow_id, workflow_type, version, status, correlation_id, input, "
    "output, create_time, start_time, update_time, end_time, last_seq, definition"
)


def rows(n: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    for i in range(n):
        wid = f"wf-{i:08d}"
        status = rng.choice(STATUSES)
        start = T0 + rng.randrange(SPAN_DAYS * DAY_MS)
        end = None if status in ("RUNNING", "PAUSED") else start + rng.randrange(600_000)
        inp = {"customer": rng.choice(NAMES), "orderId": f"o{i}", "city": rng.choice(CITIES)}
        out = {"total": rng.randrange(10_000), "receipt": f"r{i}"} if status == "COMPLETED" else {}
        yield (
            wid, wid, TYPES[min(int(rng.expovariate(0.25)), 19)], 1, status, f"corr-{i // 3}",
            json.dumps(inp), json.dumps(out), start, start, end or start, end, 5, "{}",
        )  # fmt: skip


def seed(url: str, n: int) -> None:
    rng = random.Random(42)
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(f"COPY workflows ({COLUMNS}) FROM STDIN") as copy:
            for row in rows(n, rng):
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE workflows")
    print(f"seeded {n:,} workflows in {time.monotonic() - started:.0f} s", flush=True)


def searches(n: int) -> dict[str, Callable[[random.Random], tuple[str | None, str, str | None]]]:
    """name -> a function giving (query, freeText, sort) with fresh values each call."""

    def day(rng: random.Random) -> tuple[int, int]:
        start = T0 + rng.randrange(SPAN_DAYS - 1) * DAY_MS
        return start, start + DAY_MS

    return {
        "type+status, newest first": lambda r: (
            f"workflowType = {r.choice(TYPES[:8])} AND status = {r.choice(['FAILED', 'RUNNING'])}",
            "*",
            "startTime:DESC",
        ),
        "type+status IN, updateTime sort": lambda r: (
            f"workflowType = {r.choice(TYPES)} AND status IN (RUNNING, PAUSED)",
            "*",
            "updateTime:DESC",
        ),
        "correlationId": lambda r: (f"correlationId = 'corr-{r.randrange(n // 3)}'", "*", None),
        "1-day startTime range, sorted": lambda r: (
            "startTime BETWEEN {} AND {}".format(*day(r)),
            "*",
            "startTime:DESC",
        ),
        "1-day range + type, endTime sort": lambda r: (
            "startTime BETWEEN {} AND {} AND workflowType = {}".format(*day(r), r.choice(TYPES)),
            "*",
            "endTime:DESC",
        ),
        "freeText rare word (an order id)": lambda r: (None, f"o{r.randrange(n)}", None),
        "freeText common word (~0.1%)": lambda r: (None, r.choice(NAMES), "startTime:DESC"),
        "freeText + status": lambda r: ("status = FAILED", r.choice(CITIES), "startTime:DESC"),
        "everything, default sort": lambda r: (None, "*", None),
    }


def measure(url: str, n: int, repeat: int) -> None:
    rng = random.Random(7)
    print(f"\n{'search':38} {'p50 ms':>8} {'p99 ms':>8} {'count p50':>10} {'hits(last)':>11}")
    with psycopg.connect(url, autocommit=True) as conn:
        for name, make in searches(n).items():
            timings, counting, total = [], [], 0
            for _ in range(repeat):
                query, free, sort = make(rng)
                plan = workflow_search(
                    parse_query(query, WORKFLOW_FIELDS), free, parse_sort(sort, WORKFLOW_FIELDS),
                    0, 100, COUNT_CAP,
                )  # fmt: skip
                begun = time.perf_counter()
                total = conn.execute(plan.count, plan.count_params).fetchone()[0]
                counted = time.perf_counter()
                conn.execute(plan.page, plan.page_params).fetchall()
                timings.append((time.perf_counter() - begun) * 1000)
                counting.append((counted - begun) * 1000)
            timings.sort()
            p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
            median, count_median = statistics.median(timings), statistics.median(counting)
            print(f"{name:38} {median:8.1f} {p99:8.1f} {count_median:10.1f} {total:>11,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--schema", default="bench_search")
    parser.add_argument("--keep", action="store_true", help="leave the schema in place")
    parser.add_argument("--reuse", action="store_true", help="search an already seeded schema")
    args = parser.parse_args()
    base = os.environ.get("ORCHESTRATOR_DATABASE_URL")
    if not base:
        sys.exit("ORCHESTRATOR_DATABASE_URL is not set: `. .stack/env` first")
    url = schema_url(base, args.schema)
    with psycopg.connect(base, autocommit=True) as conn:
        if not args.reuse:
            conn.execute(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{args.schema}"')
    try:
        migrate_url(url)
        if not args.reuse:
            seed(url, args.rows)
        measure(url, args.rows, args.repeat)
    finally:
        if not args.keep:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{args.schema}" CASCADE')


if __name__ == "__main__":
    main()

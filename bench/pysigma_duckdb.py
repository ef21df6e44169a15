"""pySigma's own DuckDB backend over the SigmaHQ rules and a real case (docs/architecture.md, "Sigma").

Run it in a throwaway venv, never the project's (it needs pySigma's backend, not ours)::

    python3 -m venv /tmp/pyduck && /tmp/pyduck/bin/pip install pysigma-backend-duckdb duckdb
    forensics ingest ../shared/data/EVTX-ATTACK-SAMPLES --case /tmp/fx-case
    /tmp/pyduck/bin/python bench/pysigma_duckdb.py ../shared/data/sigma/rules /tmp/fx-case

Prints how many rules convert, and of their queries how many run on the case's events (one
statement per rule, as a text backend gives them), fail in DuckDB, and match rows, with times.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import duckdb
from sigma.collection import SigmaCollection
from sigma_backend_duckdb.backend import DuckDBBackend


def main(rules_dir: Path, case: Path) -> None:
    """Convert every rule with the DuckDB text backend, then run each query over the case."""
    files = sorted(rules_dir.rglob("*.yml"))
    t0 = time.perf_counter()
    coll = SigmaCollection.load_ruleset([str(f) for f in files], collect_errors=True)
    t1 = time.perf_counter()
    backend = DuckDBBackend()
    failed: dict[str, int] = {}
    queries: list[str] = []
    for rule in coll.rules:
        try:
            queries.extend(backend.convert_rule(rule))
        except Exception as exc:  # a measurement: count each kind of refusal
            failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1
    t2 = time.perf_counter()
    print(f"{len(coll.rules)} rules parsed in {t1 - t0:.1f} s; {len(coll.rules) - sum(failed.values())} "
          f"converted, refused {failed} in {t2 - t1:.1f} s")  # fmt: skip
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW events AS SELECT * FROM read_parquet('{case}/events/**/*.parquet', union_by_name=true)"
    )
    print("case columns:", len(con.execute("DESCRIBE events").fetchall()))
    errors: dict[str, int] = {}
    ran = hits = 0
    t3 = time.perf_counter()
    for q in queries:
        try:
            n = con.execute(f"SELECT count(*) FROM ({q.replace('FROM logs ', 'FROM events ', 1)})").fetchone()
        except duckdb.Error as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            continue
        ran += 1
        hits += bool(n and n[0])
    print(f"{len(queries)} queries: {ran} ran ({hits} matched rows), failed {errors}, "
          f"{time.perf_counter() - t3:.1f} s one statement per rule")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

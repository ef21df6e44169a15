"""Benchmark: hunt an ingested case with a Sigma corpus, against one full scan of the case.

Usage::

    python bench/hunt_sigma.py CASE_DIR [RULE_DIR ...]

RULE_DIR defaults to ../shared/data/sigma/rules/windows and .../linux next to the repository.
Prints, in one run: wall time for loading the rules (YAML + pySigma), for conversion (planning
and SQL generation), for execution (DuckDB scans, findings), rules per second, and the ratio of
execution time to one full scan of the case (``SELECT count(*), count(col), ...`` over every
column any rule touches). Ingest a case first, e.g.
``forensics ingest ../shared/data/EVTX-ATTACK-SAMPLES --case /tmp/eas``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from forensics.hunt.sigma import run_sigma
from forensics.hunt.sigma.sqlutil import quote_ident
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RULES = (
    REPO.parent / "shared" / "data" / "sigma" / "rules" / "windows",
    REPO.parent / "shared" / "data" / "sigma" / "rules" / "linux",
)


def full_scan_seconds(case: Case, columns: set[str]) -> tuple[float, int]:
    """Time of one scan of ``events`` reading every given column that exists; and that column count."""
    have = {r[0].lower(): r[0] for r in case.con.execute("DESCRIBE events").fetchall()}
    cols = sorted({have[c.lower()] for c in columns if c.lower() in have})
    sel = ", ".join(["count(*)", *(f"count({quote_ident(c)})" for c in cols)])
    case.con.execute(f"SELECT {sel} FROM events").fetchall()  # warm the OS cache as the hunt did
    start = time.perf_counter()
    case.con.execute(f"SELECT {sel} FROM events").fetchall()
    return time.perf_counter() - start, len(cols)


def main(argv: list[str]) -> int:
    """Run the benchmark; print one line per figure."""
    if not argv:
        print(__doc__)
        return 2
    case_dir = Path(argv[0])
    rule_dirs = [Path(a) for a in argv[1:]] or list(DEFAULT_RULES)
    with Case.open(case_dir, read_only=True) as case:
        rows = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        timings: dict[str, Any] = {}
        wall = time.perf_counter()
        res = run_sigma(case, rule_dirs, stats=timings)
        wall = time.perf_counter() - wall
        scan, ncols = full_scan_seconds(case, timings["columns"])
    statuses = Counter(r.status for r in res.report)
    n = len(res.report)
    execute = timings["execute"]
    print(f"case                 {case_dir} ({rows:,} events)")
    print(f"rules                {n} ({dict(sorted(statuses.items()))}); {len(res.findings)} findings")
    print(f"load (yaml+pySigma)  {timings['load']:.3f} s")
    print(f"convert (plan+SQL)   {timings['convert']:.3f} s")
    print(f"execute              {execute:.3f} s  (CPU {timings['execute_cpu']:.3f} s, all threads)")
    print(
        f"wall                 {wall:.3f} s  ({n / wall:.0f} rules/s; {n / max(execute, 1e-9):.0f} rules/s executing)"
    )
    print(f"full scan            {scan:.3f} s over {ncols} columns rules touch")
    print(f"execute / full scan  {execute / max(scan, 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

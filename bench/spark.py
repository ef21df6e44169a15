"""Benchmark: the Sigma hunt on Spark against DuckDB on the same machine, and where Spark's time goes.

Usage::

    python bench/spark.py CASE_DIR [CASE_DIR ...] [--rules DIR ...] [--master local[2]] [--driver-memory 2g]

For each case, in one run: DuckDB's Sigma hunt (``run_sigma``) and the same hunt on a Spark session
(``SparkSigmaData``), then prints per case: events, findings (and whether both engines agree),
wall time of each engine with load / convert / execute, Spark's session start, per-query floor (a
trivial query, warm) and one scan of the columns the rules read, records per second per core for
each engine (DuckDB uses every core of the machine, Spark the cores of its master), the ratio, and
the JVM's peak resident memory (VmHWM of the Spark driver/executor JVM). Several cases make the
scaling table. Generated cases for it: ``scripts/make_sample_data.py --large --hosts N --days D
--out DIR`` then ``forensics ingest DIR --case CASE``.

RULES defaults to ../shared/data/sigma/rules (the whole SigmaHQ corpus).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from forensics.hunt.sigma import run_sigma
from forensics.spark.connection import SparkConnection
from forensics.spark.session import SparkOptions, _local_cores, open_session
from forensics.spark.sigma import SparkSigmaData
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RULES = REPO.parent / "shared" / "data" / "sigma" / "rules"


def _jvm_peak_kib() -> int:
    """Peak resident memory (VmHWM) of the JVMs this process started (local mode: driver = executor)."""
    peak = 0
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ppid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), 0)
        if ppid == me and b"java" in cmd:
            hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
            peak = max(peak, hwm)
    return peak


def _timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench_case(case_dir: Path, rules: list[Path], spark: Any, cores: int) -> dict[str, Any]:
    """Both engines over one case; the figures as a dict."""
    with Case.open(case_dir, read_only=True) as case:
        events = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        duck_stats: dict[str, Any] = {}
        duck, duck_wall = _timed(lambda: run_sigma(case, rules, stats=duck_stats))
        conn = SparkConnection(spark, case)
        spark_stats: dict[str, Any] = {}
        data = SparkSigmaData(conn)
        on_spark, spark_wall = _timed(lambda: run_sigma(case, rules, stats=spark_stats, data=data))
        conn.frame("SELECT 1").toArrow()
        _, floor = _timed(lambda: conn.frame("SELECT 1").toArrow())
        cols = sorted(spark_stats.get("columns", set()))
        have = {n.lower() for n, _ in conn.dataset.event_columns()}
        sel = ", ".join(["count(*)", *(f'count("{c}")' for c in cols if c.lower() in have)])
        _, scan = _timed(lambda: conn.frame(f"SELECT {sel} FROM events").toArrow())
        queries = conn.queries
    same = sorted(f.finding_id for f in duck.findings) == sorted(f.finding_id for f in on_spark.findings)
    duck_cores = os.cpu_count() or 1
    return {
        "case": str(case_dir), "events": events, "findings": len(duck.findings), "same_findings": same,
        "duck_wall": duck_wall, "duck_execute": duck_stats.get("execute", 0.0),
        "spark_wall": spark_wall, "spark_load": spark_stats.get("load", 0.0),
        "spark_convert": spark_stats.get("convert", 0.0), "spark_execute": spark_stats.get("execute", 0.0),
        "spark_queries": queries, "spark_floor": floor, "spark_scan": scan,
        "duck_rps_core": events / max(duck_wall, 1e-9) / duck_cores,
        "spark_rps_core": events / max(spark_wall, 1e-9) / cores,
        "jvm_peak_mib": _jvm_peak_kib() / 1024,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one block per case and the scaling table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--rules", nargs="*", type=Path, default=[DEFAULT_RULES])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="2g")
    args = ap.parse_args(argv)
    spark, start = _timed(
        lambda: open_session(SparkOptions(master=args.master, driver_memory=args.driver_memory))
    )
    cores = _local_cores(args.master)
    print(
        f"spark {spark.version} {args.master}: session start {start:.1f}s; DuckDB on {os.cpu_count()} cores"
    )
    rows = []
    for case_dir in args.cases:
        r = bench_case(case_dir, list(args.rules), spark, cores)
        rows.append(r)
        print(
            f"\n{r['case']}: {r['events']:,} events, {r['findings']} findings, same on both: {r['same_findings']}"
        )
        print(f"  duckdb  wall {r['duck_wall']:.1f}s (execute {r['duck_execute']:.1f}s)")
        print(f"  spark   wall {r['spark_wall']:.1f}s = load {r['spark_load']:.1f}s + convert {r['spark_convert']:.1f}s "
              f"+ execute {r['spark_execute']:.1f}s ({r['spark_queries']} queries); per-query floor "
              f"{r['spark_floor']:.2f}s; one scan of the rules' columns {r['spark_scan']:.2f}s")  # fmt: skip
        print(f"  ratio spark/duckdb wall {r['spark_wall'] / max(r['duck_wall'], 1e-9):.1f}x; records/s per core: "
              f"duckdb {r['duck_rps_core']:,.0f}, spark {r['spark_rps_core']:,.0f} "
              f"(duckdb/spark {r['duck_rps_core'] / max(r['spark_rps_core'], 1e-9):.1f}x); "
              f"JVM peak {r['jvm_peak_mib']:.0f} MiB")  # fmt: skip
    print("\nscaling (" + args.master + "):")
    print(
        "| events | duckdb s | spark s | spark execute s | spark rec/s/core | duckdb rec/s/core | JVM peak MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['events']:,} | {r['duck_wall']:.1f} | {r['spark_wall']:.1f} | {r['spark_execute']:.1f} | "
              f"{r['spark_rps_core']:,.0f} | {r['duck_rps_core']:,.0f} | {r['jvm_peak_mib']:.0f} |")  # fmt: skip
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

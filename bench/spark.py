"""Benchmark: the Sigma hunt on Spark against DuckDB on the same machine, and where Spark's time goes.

Usage::

    python bench/spark.py CASE_DIR [CASE_DIR ...] [--rules DIR ...] [--master local[2]] [--driver-memory 2g]

For each case, in one run: DuckDB's Sigma hunt (``run_sigma``) and the same hunt on a Spark session
(``SparkSigmaData``), then prints per case: events, findings (and whether both engines agree),
wall time of each engine with load / convert / execute, Spark's session start, per-query floor (a
trivial query, warm) and one scan of the columns the rules read, records per second per core for
each engine (DuckDB uses every core of the machine, Spark the cores of its master), the ratio, and
the JVM's peak resident memory (VmHWM of the Spark driver/executor JVM), and the CPU seconds each
engine used (DuckDB: this process, every thread; Spark: its JVM plus this process as the driver)
with records per CPU-second: on a shared machine wall times swing with the other jobs' load, CPU
seconds much less. Several cases make the scaling table. Generated cases for it: ``scripts/make_sample_data.py --large --hosts N --days D
--out DIR`` then ``forensics ingest DIR --case CASE``.

RULES defaults to ../shared/data/sigma/rules (the whole SigmaHQ corpus).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from typing import Any

from forensics.hunt.sigma import run_sigma
from forensics.spark.connection import SparkConnection
from forensics.spark.session import SparkOptions, _local_cores, open_session, parse_conf
from forensics.spark.sigma import SparkSigmaData
from forensics.spark.tasks import SparkTaskSigmaData
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RULES = REPO.parent / "shared" / "data" / "sigma" / "rules"


def _jvms() -> list[str]:
    """Process ids of the JVMs this process started (local mode: driver = executor)."""
    out = []
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
            out.append(pid)
    return out


def _jvm_peak_kib() -> int:
    """Peak resident memory (VmHWM) of the JVMs this process started."""
    peak = 0
    for pid in _jvms():
        status = Path(f"/proc/{pid}/status").read_text()
        hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        peak = max(peak, hwm)
    return peak


def _workers_peak_kib() -> int:
    """Summed peak resident memory (VmHWM) of the live processes below the JVMs: the Python
    workers running ``--spark-sigma duckdb`` tasks (they run side by side, so the sum bounds them)."""
    jvms = set(_jvms())
    total = 0
    for pid in _tree(sorted(jvms)):
        if pid in jvms:
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return total


def _jvm_cpu() -> float:
    """CPU seconds (user + system) the JVMs this process started have used so far, with every
    process they started (the Python workers that run ``--spark-sigma duckdb`` tasks, and those
    already ended): on a shared machine, a measure of Spark's work that other jobs' load does not
    inflate as it does wall time."""
    total = 0.0
    for pid in _tree(_jvms()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, and cutime, cstime: children already waited for
        total += sum(int(fields[k]) for k in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
    return total


def _tree(roots: list[str]) -> list[str]:
    """``roots`` and every live process below them."""
    children: dict[str, list[str]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        ppid = next((line.split()[1] for line in status.splitlines() if line.startswith("PPid:")), "0")
        children.setdefault(ppid, []).append(pid)
    out, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _own_cpu() -> float:
    """CPU seconds of this process, every thread (DuckDB's worker threads included)."""
    t = os.times()
    return t.user + t.system


def _timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def bench_case(case_dir: Path, rules: list[Path], spark: Any, cores: int, mode: str = "sql") -> dict[str, Any]:
    """Both engines over one case (Spark's Sigma scans as ``mode`` says); the figures as a dict."""
    with Case.open(case_dir, read_only=True) as case:
        events = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        duck_stats: dict[str, Any] = {}
        cpu = _own_cpu()
        duck, duck_wall = _timed(lambda: run_sigma(case, rules, stats=duck_stats))
        duck_cpu = _own_cpu() - cpu
        duck_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; this process so far
        conn = SparkConnection(spark, case)
        spark_stats: dict[str, Any] = {}
        data = SparkTaskSigmaData(conn) if mode == "duckdb" else SparkSigmaData(conn)
        cpu, jcpu = _own_cpu(), _jvm_cpu()
        on_spark, spark_wall = _timed(lambda: run_sigma(case, rules, stats=spark_stats, data=data))
        spark_cpu, spark_driver_cpu = _jvm_cpu() - jcpu, _own_cpu() - cpu
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
        "jvm_peak_mib": _jvm_peak_kib() / 1024, "workers_peak_mib": _workers_peak_kib() / 1024,
        "duck_peak_mib": duck_peak / 1024,
        "duck_cpu": duck_cpu, "spark_cpu": spark_cpu, "spark_driver_cpu": spark_driver_cpu,
        "duck_rps_cpu": events / max(duck_cpu, 1e-9), "spark_rps_cpu": events / max(spark_cpu + spark_driver_cpu, 1e-9),
        "cache": data.cache_notes.get("spark_sql", ""), "mode": mode,
        "units": getattr(data, "units", 0),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one block per case and the scaling table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--rules", nargs="*", type=Path, default=[DEFAULT_RULES])
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="2g")
    ap.add_argument("--spark-sigma", default="sql", help="sql, duckdb, or sql,duckdb: each, side by side")
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="a Spark setting (repeatable)")
    args = ap.parse_args(argv)
    conf = parse_conf(args.conf)
    spark, start = _timed(
        lambda: open_session(SparkOptions(master=args.master, driver_memory=args.driver_memory, conf=conf))
    )
    cores = _local_cores(args.master)
    print(
        f"spark {spark.version} {args.master}: session start {start:.1f}s; DuckDB on {os.cpu_count()} cores"
    )
    rows = []
    modes = [m.strip() for m in args.spark_sigma.split(",") if m.strip()]
    for case_dir in args.cases:
        for mode in modes:
            r = bench_case(case_dir, list(args.rules), spark, cores, mode)
            rows.append(r)
            units = f", {r['units']} work units" if mode == "duckdb" else ""
            print(
                f"\n{r['case']} (--spark-sigma {mode}{units}): {r['events']:,} events, {r['findings']} findings, "
                f"same on both: {r['same_findings']}"
            )
            print(f"  duckdb  wall {r['duck_wall']:.1f}s (execute {r['duck_execute']:.1f}s)")
            print(f"  spark   wall {r['spark_wall']:.1f}s = load {r['spark_load']:.1f}s + convert {r['spark_convert']:.1f}s "
                  f"+ execute {r['spark_execute']:.1f}s ({r['spark_queries']} queries); per-query floor "
                  f"{r['spark_floor']:.2f}s; one scan of the rules' columns {r['spark_scan']:.2f}s")  # fmt: skip
            print(f"  ratio spark/duckdb wall {r['spark_wall'] / max(r['duck_wall'], 1e-9):.1f}x; records/s per core: "
                  f"duckdb {r['duck_rps_core']:,.0f}, spark {r['spark_rps_core']:,.0f} "
                  f"(duckdb/spark {r['duck_rps_core'] / max(r['spark_rps_core'], 1e-9):.1f}x); "
                  f"JVM peak {r['jvm_peak_mib']:.0f} MiB, Python workers {r['workers_peak_mib']:.0f} MiB; "
                  f"this process after DuckDB's hunt {r['duck_peak_mib']:.0f} MiB")  # fmt: skip
            print(f"  CPU seconds: duckdb {r['duck_cpu']:.1f}; spark JVM {r['spark_cpu']:.1f} + driver (Python) "
                  f"{r['spark_driver_cpu']:.1f}; records per CPU-second: duckdb {r['duck_rps_cpu']:,.0f}, spark "
                  f"{r['spark_rps_cpu']:,.0f} (duckdb/spark {r['duck_rps_cpu'] / max(r['spark_rps_cpu'], 1e-9):.1f}x); "
                  f"Spark SQL cache: {r['cache']}")  # fmt: skip
    print("\nscaling (" + args.master + "):")
    print(
        "| events | spark sigma | duckdb s | spark s | spark execute s | spark rec/s/core | duckdb rec/s/core "
        "| duckdb CPU s | spark CPU s | rec/CPU-s duckdb / spark | JVM + workers peak MiB | DuckDB peak MiB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['events']:,} | {r['mode']} | {r['duck_wall']:.1f} | {r['spark_wall']:.1f} | {r['spark_execute']:.1f} | "
              f"{r['spark_rps_core']:,.0f} | {r['duck_rps_core']:,.0f} | {r['duck_cpu']:.1f} | "
              f"{r['spark_cpu'] + r['spark_driver_cpu']:.1f} | {r['duck_rps_cpu']:,.0f} / {r['spark_rps_cpu']:,.0f} | "
              f"{r['jvm_peak_mib']:.0f} + {r['workers_peak_mib']:.0f} | {r['duck_peak_mib']:.0f} |")  # fmt: skip
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

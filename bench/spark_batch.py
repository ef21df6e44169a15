"""``forensics batch --engine spark`` against the local batch on the same images, in one run.

    python bench/spark_batch.py [DATA_DIR] [--images N] [--kind raw|e01|...] [--master local[2]] [--workers W]

Builds N Windows disk images from the EVTX files of DATA_DIR (default ../shared/data:
EVTX-ATTACK-SAMPLES and DeepBlueCLI split round-robin, as ``bench/images.py`` does), then:

1. ``local``: ``run_batch`` with W worker processes (default 2) into a fresh case;
2. ``spark``: the same batch with its units on a classic Spark session (``--master``, default
   ``local[2]``: the same two cores) into a fresh case — the session start timed apart, then a
   warm-up job per task slot (the Python workers import the parsers and dissect once each, as
   the local batch's forkserver preloads them), then the batch.

Checks that both cases hold the same rows (every event column, inputs, rejects), and prints wall
times, the Spark/local ratio, and where Spark's time goes: session start, warm-up, time inside
the units on the executors (summed over calls), Spark's jobs (submit to results back) and what is
left for the driver (planning, commits, custody).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from images import build  # noqa: E402

from forensics.batch.driver import run_batch  # noqa: E402
from forensics.batch.manifest import folder_specs  # noqa: E402
from forensics.store import Case  # noqa: E402


def fingerprint(case_dir: Path) -> tuple[int, int, str]:
    """(events, rejects, SHA-256 over every event row's columns, the inputs and the rejects, sorted)."""
    h = hashlib.sha256()
    with Case.open(case_dir, read_only=True) as case:
        con = case.con
        cols = sorted(r[0] for r in con.execute("DESCRIBE events").fetchall())
        listed = ", ".join(f'"{c}"' for c in cols)
        rows = con.execute(f"SELECT {listed} FROM events ORDER BY input_sha256, rec_index").fetchall()
        for r in rows:
            h.update(repr(r).encode())
        keep = [r[0] for r in con.execute("DESCRIBE inputs").fetchall() if r[0] not in ("seq", "ingested_at")]
        for r in con.execute(
            f"SELECT {', '.join(keep)} FROM inputs ORDER BY path, member, sha256"
        ).fetchall():
            h.update(repr(r).encode())
        rejects = con.execute("SELECT * FROM rejects ORDER BY input_sha256, rec_index").fetchall()
        for r in rejects:
            h.update(repr(r).encode())
    return len(rows), len(rejects), h.hexdigest()


def unit_seconds(case_dir: Path) -> float:
    """Seconds the images' units spent inside themselves, summed (the ``images`` table's count)."""
    with Case.open(case_dir, read_only=True) as case:
        return float(case.con.execute("SELECT coalesce(sum(seconds), 0) FROM images").fetchone()[0])  # type: ignore[index]


def warm(executor: object, width: int) -> float:
    """One call per slot importing what the units import; seconds."""
    start = time.perf_counter()
    from forensics.spark.batch import warm_up

    futures = [executor.submit(warm_up) for _ in range(width)]  # type: ignore[attr-defined]
    for f in futures:
        f.result()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--kind", default="raw")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="keep the images here (built once, reused)")
    args = ap.parse_args()

    from forensics.spark.batch import ExecutorStats, SparkExecutor
    from forensics.spark.session import SparkOptions, open_session

    tmp = Path(tempfile.mkdtemp(prefix="bench-sparkbatch-"))
    work = args.work or tmp / "build"
    try:
        images = work / "images"
        if not images.is_dir():
            work.mkdir(parents=True, exist_ok=True)
            t = time.perf_counter()
            build(args.data, args.images, args.kind, work)
            print(f"built {args.images} {args.kind} images in {time.perf_counter() - t:.1f} s")
        specs = folder_specs(images)
        size = sum(p.stat().st_size for p in images.rglob("*") if p.is_file())
        print(
            f"{len(specs)} images, {size / 1e6:.1f} MB of image files; local {args.workers} workers, spark {args.master}"
        )

        t = time.perf_counter()
        local_summary = run_batch(tmp / "local", specs, workers=args.workers)
        local = time.perf_counter() - t
        print(f"local batch done in {local:.1f} s", flush=True)
        n_local = fingerprint(tmp / "local")

        t = time.perf_counter()
        spark = open_session(SparkOptions(master=args.master, driver_memory="2g"))
        session = time.perf_counter() - t
        executor = SparkExecutor(spark)
        try:
            warmed = warm(executor, executor.width)
            time.sleep(0.5)  # the warm-up job's thread books its time, then the figures start from zero
            executor.stats = ExecutorStats()
            t = time.perf_counter()
            spark_summary = run_batch(tmp / "spark", specs, workers=executor.width, executor=executor)
            on_spark = time.perf_counter() - t
        finally:
            executor.shutdown()
            spark.stop()
        n_spark = fingerprint(tmp / "spark")
        st = executor.stats

        same = n_local == n_spark
        print(f"rows: local {n_local[0]:,} events / {n_local[1]:,} rejects; spark {n_spark[0]:,} / {n_spark[1]:,}; "
              f"identical (events, inputs, rejects): {same}")  # fmt: skip
        print(
            f"local batch          {local:8.1f} s  ({n_local[0] / local:,.0f} rec/s, {size / 1e6 / local:.1f} MB/s)"
        )
        print(f"spark batch          {on_spark:8.1f} s  ({n_spark[0] / on_spark:,.0f} rec/s)  "
              f"ratio spark/local {on_spark / local:.2f}x")  # fmt: skip
        print(
            f"  + session start    {session:8.1f} s   + warm-up (imports per slot) {warmed:.1f} s  "
            f"-> end to end {session + warmed + on_spark:.1f} s, ratio {(session + warmed + on_spark) / local:.2f}x"
        )
        slots = executor.width
        print(f"  {st.calls} units in {st.jobs} jobs over {slots} slots: "
              f"{st.call_seconds:.1f} s inside the units (summed; /{slots} slots = {st.call_seconds / slots:.1f} s wall), "
              f"{st.payload_bytes / 1e6:.2f} MB of calls sent, {st.result_bytes / 1e6:.2f} MB of results back")  # fmt: skip
        unit_local, unit_spark = unit_seconds(tmp / "local"), unit_seconds(tmp / "spark")
        print(f"  the units' own time (list + hash + parse, summed over units, measured inside them): "
              f"local processes {unit_local:.1f} s, Spark's Python workers {unit_spark:.1f} s "
              f"({unit_spark / unit_local:.2f}x)")  # fmt: skip
        print(f"  driver: waited {spark_summary.waited:.1f} s for units, {on_spark - spark_summary.waited:.1f} s its own "
              f"(planning, commits, custody); local driver waited {local_summary.waited:.1f} s, "
              f"{local - local_summary.waited:.1f} s its own")  # fmt: skip
        print(
            f"  Spark's cost beyond the units (scheduling, Arrow, pickles, Python workers): "
            f"{spark_summary.waited - st.call_seconds / slots:.1f} s of the wait, "
            f"{(spark_summary.waited - st.call_seconds / slots) / max(1, st.jobs):.2f} s per job"
        )
        if not same:
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ingest benchmark: our EVTX ingest against a bare parse with the ``evtx`` package, same run.

    python bench/ingest.py [DATA_DIR] [--workers N] [--repeat K]

DATA_DIR defaults to ../shared/data. Every ``*.evtx`` under it is (1) parsed bare — every
record pulled from ``PyEvtxParser.records_json()``, nothing kept — and (2) ingested into a
fresh temporary case. Prints records/s, MB/s, peak RSS (ours, workers included), Parquet
size against EVTX size, and the ratio of our wall time to the bare parse. The two are timed
alternately ``--repeat`` times and the best of each is compared (this machine is noisy).
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from evtx import PyEvtxParser

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from forensics.ingest.runner import ingest_paths  # noqa: E402


def bare_parse(files: list[Path]) -> int:
    """Pull every record (and error) out of every file; return how many items came out."""
    n = 0
    for f in files:
        try:
            it = PyEvtxParser(str(f)).records_json()
        except (OSError, RuntimeError):
            continue
        while True:
            try:
                next(it)
            except StopIteration:
                break
            except (OSError, RuntimeError):
                pass
            n += 1
    return n


class RssSampler:
    """Peak RSS of this process plus all its descendants (the worker pool), sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.02):
            total = 0
            for p in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*.parquet"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    files = sorted(p for p in Path(args.data).rglob("*") if p.suffix.lower() == ".evtx" and p.is_file())
    size = sum(f.stat().st_size for f in files)
    print(f"{len(files)} EVTX files, {size / 1e6:.1f} MB")
    bare_best = ours_best = float("inf")
    rows = records = 0
    parquet = 0
    peak = 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        records = bare_parse(files)
        bare_best = min(bare_best, time.perf_counter() - t)
        tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
        try:
            with RssSampler() as rss:
                t = time.perf_counter()
                summary = ingest_paths(tmp / "case", files, workers=args.workers)
                ours_best = min(ours_best, time.perf_counter() - t)
            peak = max(peak, rss.peak)
            rows = summary.rows + summary.rejects
            parquet = dir_bytes(tmp / "case")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"bare evtx parse : {bare_best:7.3f} s  {records / bare_best:10,.0f} records/s  {size / 1e6 / bare_best:7.1f} MB/s"
    )
    print(
        f"forensics ingest: {ours_best:7.3f} s  {rows / ours_best:10,.0f} records/s  {size / 1e6 / ours_best:7.1f} MB/s"
    )
    print(f"records: bare {records:,}  ours rows+rejects {rows:,} (duplicate files are parsed once by us)")
    print(f"ratio ingest / bare parse: {ours_best / bare_best:.2f}x")
    print(
        f"peak RSS of ingest, workers included: {peak / 2**20:.0f} MiB (this process at most {own:.0f} MiB)"
    )
    print(f"parquet {parquet / 1e6:.1f} MB vs evtx {size / 1e6:.1f} MB ({parquet / size:.1%})")


if __name__ == "__main__":
    main()

"""Benchmark: a hunt with SigmaHQ + Hayabusa rules against the SigmaHQ-only hunt, in one run, at 1× and 10×.

Usage::

    python bench/hunt_hayabusa.py [CASE_DIR] [--evtx DIR] [--times N]... [--sigma DIR]...
                                  [--hayabusa DIR]... [--repeat N] [--json]

Without CASE_DIR the case is built from ``--evtx`` (default ../shared/data/EVTX-ATTACK-SAMPLES next
to the repository) in a temporary folder, once per ``--times`` (default 1 and 10): the N× case
holds N copies of every EVTX file, each copy with a short trailer after its last chunk so its
SHA-256 differs (the parser reads the same records; ingest keeps every copy). With CASE_DIR that
case is hunted at 1× only, on a copy: the runs the benchmark makes never land in it.

``--sigma`` defaults to ../shared/data/sigma/rules/windows, ``--hayabusa`` to
../shared/data/hayabusa-rules/hayabusa and .../sigma. Both hunts are full ``run_hunt`` passes
(Sigma, the project's SQL hunts, IOC sweep, YARA over event text), as ``forensics hunt`` runs them.

Per case: each configuration runs once cold (parses and converts its rules, fills the case's
caches), then ``--repeat`` times alternating; the best wall and CPU time (all threads) of each is
compared — the goal is ``both / sigmahq <= 1.5`` in wall time. Beside them, the engine underneath:
one DuckDB scan of every column of the events. Also reported, per configuration, on how many input
files ``hunt`` finds nothing (no finding names one of the file's records), counting every finding
and only those at or above the hunt's ``--min-level`` (``low`` with Hayabusa's set): on
EVTX-ATTACK-SAMPLES each file is one attack technique, so this is the effect of Hayabusa's rules.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from forensics.hunt.engine import HuntOptions, HuntSummary, run_hunt
from forensics.hunt.findings import level_rank
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_EVTX = SHARED / "EVTX-ATTACK-SAMPLES"
DEFAULT_SIGMA = (SHARED / "sigma" / "rules" / "windows",)
DEFAULT_HAYABUSA = (SHARED / "hayabusa-rules" / "hayabusa", SHARED / "hayabusa-rules" / "sigma")
GOAL = 1.5


def _hunt(case: Case, sigma: list[Path]) -> tuple[float, float, HuntSummary]:
    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_hunt(case, HuntOptions(sigma=sigma), argv=["bench/hunt_hayabusa.py"])
    return time.perf_counter() - wall, time.process_time() - cpu, summary


def files_without_findings(case: Case, summary: HuntSummary) -> dict[str, int]:
    """Input files (parsed, with rows) no finding points into: with any finding, and at/above min-level."""
    files = {sha for (sha,) in case.con.execute("SELECT sha256 FROM inputs WHERE rows > 0").fetchall()}
    floor = level_rank(summary.min_level)  # type: ignore[arg-type]
    hit_any: set[str] = set()
    hit_shown: set[str] = set()
    for f in summary.findings:
        shas = {r.input_sha256 for r in f.records}
        hit_any |= shas
        if f.rank >= floor:
            hit_shown |= shas
    return {"files": len(files), "nothing_found": len(files - hit_any), "nothing_shown": len(files - hit_shown)}


def engine_scan(case: Case) -> float:
    """Best of three DuckDB scans of every column of the events (the floor under any hunt)."""
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        case.con.execute("SELECT count(*), count(COLUMNS(*)) FROM events").fetchall()
        best = min(best, time.perf_counter() - t)
    return best


def _copies(src: Path, dest: Path, times: int) -> None:
    """``times`` copies of every EVTX under ``src``; copy k > 0 gets a trailer so its SHA-256 differs."""
    for k in range(times):
        for f in sorted(src.rglob("*.evtx")):
            out = dest / f"copy{k:02d}" / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, out)
            if k:
                with out.open("ab") as fh:
                    fh.write(f"forensics-bench copy {k}".encode())


@contextmanager
def _case(tmp: Path, given: Path | None, evtx: Path, times: int) -> Iterator[tuple[Path, float]]:
    """(case folder, seconds to build it): a copy of ``given``, or ``times``× ``evtx`` ingested."""
    case = tmp / f"case-x{times}"
    t = time.perf_counter()
    if given is not None:
        shutil.copytree(given, case)
    else:
        _copies(evtx, tmp / f"evtx-x{times}", times)
        ingest_paths(case, [tmp / f"evtx-x{times}"])
        shutil.rmtree(tmp / f"evtx-x{times}")
    try:
        yield case, time.perf_counter() - t
    finally:
        shutil.rmtree(case, ignore_errors=True)


def bench_case(case_dir: Path, configs: dict[str, list[Path]], repeat: int) -> dict[str, Any]:
    """Cold and best warm hunts of each configuration, alternating, and the engine scan."""
    out: dict[str, Any] = {}
    with Case.open(case_dir) as case:
        out["events"] = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        best: dict[str, list[float]] = {}
        for name, paths in configs.items():  # cold: parse and convert, fill the caches
            wall, cpu, summary = _hunt(case, paths)
            out[name] = {
                "cold_wall_s": round(wall, 2),
                "sigma": summary.sigma_counts,
                "min_level": summary.min_level,
                "findings": len(summary.findings),
                "by_level": dict(sorted(Counter(f.level for f in summary.findings).items())),
                "coverage": files_without_findings(case, summary),
            }
        for _ in range(max(1, repeat)):
            for name, paths in configs.items():
                wall, cpu, summary = _hunt(case, paths)
                w, c = best.get(name, [float("inf"), float("inf")])
                best[name] = [min(w, wall), min(c, cpu)]
                out[name]["sigma_stats_s"] = {
                    k: round(v, 2) for k, v in summary.sigma_stats.items() if isinstance(v, float)
                }
                out[name]["plan_cache"] = summary.sigma_cache
        for name, (w, c) in best.items():
            out[name]["wall_s"] = round(w, 2)
            out[name]["cpu_s"] = round(c, 2)
        out["engine_scan_s"] = round(engine_scan(case), 3)
    out["ratio_wall"] = round(best["both"][0] / best["sigmahq"][0], 2)
    out["ratio_cpu"] = round(best["both"][1] / best["sigmahq"][1], 2)
    out["met"] = out["ratio_wall"] <= GOAL
    return out


def _print(scale: str, r: dict[str, Any]) -> None:
    print(f"\n== {scale}: {r['events']:,} events (case built in {r['build_s']:.1f} s)")
    print(f"{'':9} {'converted':>9} {'skipped':>8} {'cold s':>7} {'wall s':>7} {'cpu s':>7} {'findings':>9}"
          f"  files with nothing found: any finding / at or above min-level")  # fmt: skip
    for name in ("sigmahq", "both"):
        c = r[name]
        cov = c["coverage"]
        print(f"{name:9} {c['sigma'].get('converted', 0):>9} {c['sigma'].get('skipped', 0):>8} "
              f"{c['cold_wall_s']:>7.2f} {c['wall_s']:>7.2f} {c['cpu_s']:>7.2f} {c['findings']:>9}"
              f"  {cov['nothing_found']} / {cov['nothing_shown']} of {cov['files']} (min-level {c['min_level']})")  # fmt: skip
    for name in ("sigmahq", "both"):
        st = r[name].get("sigma_stats_s", {})
        print(f"  {name} Sigma (last warm run): " + ", ".join(f"{k} {v:.2f}s" for k, v in st.items())
              + f"; plan cache {r[name].get('plan_cache')}")  # fmt: skip
    print(f"both / sigmahq: wall {r['ratio_wall']:.2f}, cpu {r['ratio_cpu']:.2f} "
          f"(goal <= {GOAL}: {'met' if r['met'] else 'NOT met'}); "
          f"engine underneath: one scan of every events column {r['engine_scan_s']:.3f} s")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Build (or copy) the cases, run both hunts on each, print the figures."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("case", type=Path, nargs="?", help="an ingested case (hunted on a copy, at 1× only)")
    ap.add_argument("--evtx", type=Path, default=DEFAULT_EVTX, help="EVTX folder the cases are built from")
    ap.add_argument("--times", type=int, action="append", help="scale of the case (repeatable; default 1, 10)")
    ap.add_argument("--sigma", type=Path, action="append")
    ap.add_argument("--hayabusa", type=Path, action="append")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    sigma = [p for p in (args.sigma or DEFAULT_SIGMA) if p.exists()]
    haya = [p for p in (args.hayabusa or DEFAULT_HAYABUSA) if p.exists()]
    if not sigma or not haya:
        print("error: SigmaHQ or Hayabusa rules not found (give --sigma / --hayabusa)", file=sys.stderr)
        return 2
    configs = {"sigmahq": sigma, "both": sigma + haya}
    scales = [1] if args.case is not None else sorted(set(args.times or [1, 10]))
    result: dict[str, Any] = {
        "source": str(args.case or args.evtx), "rules": {k: [str(p) for p in v] for k, v in configs.items()},
        "goal": f"both / sigmahq <= {GOAL} (wall)", "scales": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-hayabusa-") as tmp:
        # the caches the cold runs fill: the user's, unless the caller chose one
        os.environ.setdefault("FORENSICS_CACHE_DIR", str(Path(tmp) / "user-cache"))
        for n in scales:
            with _case(Path(tmp), args.case, args.evtx, n) as (case_dir, build_s):
                r = bench_case(case_dir, configs, args.repeat)
            r["build_s"] = round(build_s, 2)
            result["scales"][f"x{n}"] = r
            if not args.json:
                _print(f"{result['source']} ×{n}", r)
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: a hunt with SigmaHQ + Hayabusa rules against the SigmaHQ-only hunt, in one run.

Usage::

    python bench/hunt_hayabusa.py CASE_DIR [--sigma DIR]... [--hayabusa DIR]... [--repeat N] [--json]

``--sigma`` defaults to ../shared/data/sigma/rules/windows next to the repository, ``--hayabusa``
to ../shared/data/hayabusa-rules/hayabusa and .../sigma. Both hunts are full ``run_hunt`` passes
(Sigma, the project's SQL hunts, IOC sweep, YARA over event text), as ``forensics hunt`` runs them.

Each configuration runs once to warm the caches (parsed rules, converted SQL; reported as
``cold``), then ``--repeat`` times alternating, and the best wall and CPU time of each is
compared: the goal is ``both / sigmahq <= 1.5``. CPU time (all threads) is shown beside wall time
because the machine is shared.

It also reports, per configuration, on how many input files of the case ``hunt`` finds nothing
(no finding names one of the file's records), counting every finding and only those at or above
the hunt's ``--min-level`` (``low`` with Hayabusa's set): on EVTX-ATTACK-SAMPLES each file is one
attack technique, so this is the held-out effect of adding Hayabusa's rules. The hunt writes its
findings into CASE_DIR, as ``forensics hunt`` does.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from forensics.hunt.engine import HuntOptions, HuntSummary, run_hunt
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_SIGMA = (SHARED / "sigma" / "rules" / "windows",)
DEFAULT_HAYABUSA = (SHARED / "hayabusa-rules" / "hayabusa", SHARED / "hayabusa-rules" / "sigma")
GOAL = 1.5


def _hunt(case: Case, sigma: list[Path]) -> tuple[float, float, HuntSummary]:
    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_hunt(case, HuntOptions(sigma=sigma), argv=["bench/hunt_hayabusa.py"])
    return time.perf_counter() - wall, time.process_time() - cpu, summary


def files_without_findings(case: Case, summary: HuntSummary) -> dict[str, int]:
    """Input files (parsed, with rows) no finding points into: with any finding, and at/above min-level."""
    rows = case.con.execute("SELECT sha256, path FROM inputs WHERE rows > 0").fetchall()
    files = {sha: path for sha, path in rows}
    floor = summary.min_level
    from forensics.hunt.findings import level_rank

    hit_any: set[str] = set()
    hit_shown: set[str] = set()
    for f in summary.findings:
        shas = {r.input_sha256 for r in f.records}
        hit_any |= shas
        if f.rank >= level_rank(floor):  # type: ignore[arg-type]
            hit_shown |= shas
    return {
        "files": len(files),
        "nothing_found": sum(1 for s in files if s not in hit_any),
        f"nothing_at_or_above_{floor}": sum(1 for s in files if s not in hit_shown),
    }


def main(argv: list[str] | None = None) -> int:
    """Run both hunts and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", type=Path)
    ap.add_argument("--sigma", type=Path, action="append")
    ap.add_argument("--hayabusa", type=Path, action="append")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    sigma = [p for p in (args.sigma or DEFAULT_SIGMA) if p.exists()]
    haya = [p for p in (args.hayabusa or DEFAULT_HAYABUSA) if p.exists()]
    configs = {"sigmahq": sigma, "both": sigma + haya}
    result: dict[str, Any] = {"case": str(args.case), "rules": {k: [str(p) for p in v] for k, v in configs.items()}}
    with Case.open(args.case) as case:
        result["events"] = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        best: dict[str, list[float]] = {}
        for name, paths in configs.items():  # warm-up: parse and convert once, fill the caches
            wall, cpu, summary = _hunt(case, paths)
            result[name] = {
                "cold_wall_s": round(wall, 2),
                "sigma": summary.sigma_counts,
                "min_level": summary.min_level,
                "findings": len(summary.findings),
                "by_level": dict(Counter(f.level for f in summary.findings)),
                "coverage": files_without_findings(case, summary),
            }
        for _ in range(max(1, args.repeat)):
            for name, paths in configs.items():
                wall, cpu, summary = _hunt(case, paths)
                w, c = best.get(name, [float("inf"), float("inf")])
                best[name] = [min(w, wall), min(c, cpu)]
                result[name]["sigma_stats_s"] = {
                    k: round(v, 2) for k, v in summary.sigma_stats.items() if isinstance(v, float)
                }
        for name, (w, c) in best.items():
            result[name]["wall_s"] = round(w, 2)
            result[name]["cpu_s"] = round(c, 2)
    result["ratio_wall"] = round(best["both"][0] / best["sigmahq"][0], 2)
    result["ratio_cpu"] = round(best["both"][1] / best["sigmahq"][1], 2)
    result["goal"] = f"both / sigmahq <= {GOAL}"
    result["met"] = result["ratio_wall"] <= GOAL
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for key, value in result.items():
            print(f"{key:12} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

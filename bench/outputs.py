"""Benchmark: the case outputs (integrity, story, timeline, report) on hunted cases of growing size.

Usage::

    python bench/outputs.py CASE [CASE ...] [--rounds N] [--json]

Each CASE is an ingested and hunted case (``forensics hunt DATA --case CASE``). For each, in a
fresh process per round, the steps ``write_case_outputs`` takes are timed one after the other on
one connection, as the command runs them:

- ``findings``: the run's findings read (``read_findings``);
- ``facts``: the fact queries of ``queries/facts`` computed (the hunt computes the ones its hunts
  use on its own connection; here they are timed apart so no step below carries them);
- ``integrity``: ``assess``;
- ``story``: ``build_story`` with that assessment and those findings;
- ``timeline``: ``build_timeline`` (context mode; it reads the run's hit records, shared with the
  report and the csv-timeline) and its CSV and Timesketch JSONL files;
- ``report``: ``render_report`` with the same findings, assessment and story (HTML only);
- ``csv_timeline``: the Hayabusa-style csv-timeline from the same hit records;
- ``navigator``: the ATT&CK Navigator layer;
- ``scan``: one full scan of the events (``count(*)``, min/max ``ts`` per host) for scale.

``outputs`` is the sum of the steps but ``scan``: what ``write_case_outputs`` costs after a hunt
(the hunt has computed the facts its hunts use by then; here all five are counted). Printed per
case: events, wall seconds per step (median of the rounds) with the process's CPU seconds beside
them (DuckDB's threads included: steadier than wall time on a shared machine), and wall seconds
per million events, so growth faster than the events shows as a rising rate. The load average is
printed beside the figures.

Large cases come from the demo generator's large mode, e.g.::

    python scripts/make_sample_data.py --out /tmp/big2m --hosts 200 --days 14
    forensics hunt /tmp/big2m --case /tmp/big2m-case
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEPS = ("findings", "facts", "integrity", "story", "timeline", "report", "csv_timeline", "navigator", "scan", "outputs")


def measure(case_dir: Path, out: Path) -> dict[str, Any]:
    """One round in this process: seconds per step and the number of events."""
    import orjson

    from forensics.facts import default_facts, fact_table
    from forensics.hits import hit_records
    from forensics.hunt.findings import read_findings
    from forensics.integrity import EVENTS, assess, settle
    from forensics.navigator import layer
    from forensics.outputs.csv_timeline import write_case_csv_timeline
    from forensics.report import render_report
    from forensics.store import Case
    from forensics.story import build_story
    from forensics.timeline import build_timeline, write_timeline

    took: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def step(name: str, fn: Any) -> Any:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        took[name] = round(time.perf_counter() - start, 3)
        cpu[name] = round(time.process_time() - start_cpu, 3)
        return result

    with Case.open(case_dir, read_only=True) as case:
        run = case.resolve_run(None)
        findings = step("findings", lambda: read_findings(case, run))
        settle(case)
        step("facts", lambda: [fact_table(case, fid) for fid in sorted(default_facts())])
        integ = step("integrity", lambda: assess(case))
        story = step("story", lambda: build_story(case, integ, findings=findings))

        def timeline() -> int:
            table = build_timeline(case, mode="context", integrity=integ, findings=findings)
            write_timeline(table, "csv", out / "timeline.csv")
            write_timeline(table, "timesketch", out / "timeline.timesketch.jsonl")
            return int(table.num_rows)

        rows = step("timeline", timeline)
        html = step("report", lambda: render_report(case, findings=findings, integrity=integ, story=story, run=run))
        (out / "report.html").write_text(html, encoding="utf-8")
        step("csv_timeline", lambda: write_case_csv_timeline(
            case, run, out / "csv-timeline.csv", hits=hit_records(case, findings)
        ))  # fmt: skip
        step("navigator", lambda: (out / "navigator-layer.json").write_bytes(
            orjson.dumps(layer(case, findings=findings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        ))  # fmt: skip
        step("scan", lambda: case.con.execute(
            f"SELECT host, count(*), min(ts), max(ts) FROM {EVENTS} GROUP BY host"
        ).fetchall())  # fmt: skip
        events = sum(int(c["events"]) for c in integ.coverage)
    took["outputs"] = round(sum(v for k, v in took.items() if k != "scan"), 3)
    cpu["outputs"] = round(sum(v for k, v in cpu.items() if k != "scan"), 3)
    return {"events": events, "findings": len(findings), "timeline_rows": rows, "report_bytes": len(html),
            "seconds": took, "cpu": cpu}  # fmt: skip


def _child(case_dir: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-outputs-") as tmp:
        cmd = [sys.executable, __file__, "--_round", str(case_dir), tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"round on {case_dir} failed: {proc.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        return result


def bench_case(case_dir: Path, rounds: int) -> dict[str, Any]:
    """Rounds over one case, each in a fresh process; medians per step."""
    results = [_child(case_dir) for _ in range(rounds)]
    med = {s: round(statistics.median(r["seconds"][s] for r in results), 3) for s in STEPS}
    med_cpu = {s: round(statistics.median(r["cpu"][s] for r in results), 3) for s in STEPS}
    ev = results[0]["events"]
    return {
        "case": str(case_dir), "events": ev, "findings": results[0]["findings"],
        "timeline_rows": results[0]["timeline_rows"], "report_bytes": results[0]["report_bytes"],
        "median_s": med, "median_cpu_s": med_cpu, "s_per_m_events": {s: round(v / (ev / 1e6), 3) if ev else None for s, v in med.items()},
        "rounds": [r["seconds"] for r in results], "load": os.getloadavg(),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, time every case, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", type=Path, help="hunted case folders")
    ap.add_argument("--rounds", type=int, default=1, help="rounds per case, each a fresh process (default 1)")
    ap.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ap.add_argument("--_round", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._round:
        print(json.dumps(measure(*args._round)))
        return 0
    if not args.cases:
        ap.error("give at least one hunted case folder")
    results = []
    for c in args.cases:
        res = bench_case(c, args.rounds)
        results.append(res)
        m, r, cp = res["median_s"], res["s_per_m_events"], res["median_cpu_s"]
        print(f"\n{c}: {res['events']:,} events, {res['findings']} findings, {res['timeline_rows']:,} timeline rows, "
              f"load {res['load'][0]:.1f}")  # fmt: skip
        for s in STEPS:
            print(f"  {s:12} {m[s]:8.2f} s  (cpu {cp[s]:6.2f} s)  {r[s] if r[s] is not None else '-':>8} s per M events")
    if args.json:
        print(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())

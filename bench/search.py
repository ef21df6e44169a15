"""Benchmark: ``forensics search`` against a bare DuckDB scan of the same columns, in one run.

Usage::

    python bench/search.py CASE_DIR [--keyword TEXT]... [--regex RE]... [--rounds N] [--json]

For each query (default: a selective keyword, a broad one, a regex, and a keyword limited to one
field with --field), timed alternately ``--rounds`` times (default 3), median reported:

- ``search_s``: ``forensics.search.search`` — the filter over every searched column, the fields
  that matched, the rows in time order as Arrow (what the CLI then prints);
- ``cli_s``: ``forensics search CASE ... --json > /dev/null`` as a process (start-up, search,
  one JSON line per hit);
- ``bare_filter_s``: ``SELECT count(*) FROM events WHERE <the same predicates>``: DuckDB doing
  only the matching, over the same columns;
- ``bare_read_s``: ``SELECT count(col), ... FROM events`` over the same columns: reading them;
- the ratios ``search / bare_filter`` and ``search / bare_read``.

A large case: ``python scripts/make_sample_data.py --out /tmp/big --hosts 200 --days 7`` (about
one million events), then ``forensics ingest /tmp/big --case /tmp/big-case``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from forensics.search import SearchQuery, _predicate, search, searched_columns
from forensics.store import Case

DEFAULT_QUERIES: tuple[tuple[str, SearchQuery], ...] = (
    ("keyword, selective", SearchQuery(keywords=("svchosts.exe",))),
    ("keyword, broad", SearchQuery(keywords=("svchost",))),
    ("regex", SearchQuery(regexes=(r"vssadmin\s+delete\s+shadows",))),
    ("keyword, --field CommandLine", SearchQuery(keywords=("powershell",), fields=("CommandLine",))),
)


def _bare_filter_sql(q: SearchQuery, columns: list[str]) -> str:
    """The matching alone, as a hand-written DuckDB query would do it."""
    preds = [
        _predicate(kind, pattern, f'CAST("{c}" AS VARCHAR)', q.case_sensitive)
        for kind, pattern in q.patterns()
        for c in columns
    ]
    return f"SELECT count(*) FROM events WHERE {' OR '.join(preds)}"


def _bare_read_sql(columns: list[str]) -> str:
    return "SELECT " + ", ".join(["count(*)", *(f'count("{c}")' for c in columns)]) + " FROM events"


def _cli_args(case: Path, q: SearchQuery) -> list[str]:
    args = [sys.executable, "-m", "forensics", "search", str(case), *q.keywords, "--json"]
    for r in q.regexes:
        args += ["-e", r]
    for f in q.fields:
        args += ["--field", f]
    return args


def _time(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def bench_query(case_dir: Path, case: Case, q: SearchQuery, rounds: int) -> dict[str, Any]:
    """Alternate the four measurements ``rounds`` times; medians and ratios."""
    columns = searched_columns(case.con, q.fields)
    filt, read = _bare_filter_sql(q, columns), _bare_read_sql(columns)
    case.con.execute(read).fetchall()  # warm-up: file metadata and the OS cache
    times: dict[str, list[float]] = {"search_s": [], "cli_s": [], "bare_filter_s": [], "bare_read_s": []}
    hits = bare_hits = 0
    for _ in range(rounds):
        dt, result = _time(lambda: search(case, q))
        times["search_s"].append(dt)
        hits = len(result)
        dt, rows = _time(lambda: case.con.execute(filt).fetchall())
        times["bare_filter_s"].append(dt)
        bare_hits = rows[0][0]
        dt, _ = _time(lambda: case.con.execute(read).fetchall())
        times["bare_read_s"].append(dt)
        dt, _ = _time(lambda: subprocess.run(_cli_args(case_dir, q), check=True, capture_output=True))
        times["cli_s"].append(dt)
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    return {
        "columns": len(columns),
        "hits": hits,
        "bare_hits": bare_hits,
        **med,
        "search_over_bare_filter": round(med["search_s"] / med["bare_filter_s"], 2)
        if med["bare_filter_s"]
        else None,
        "search_over_bare_read": round(med["search_s"] / med["bare_read_s"], 2)
        if med["bare_read_s"]
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", type=Path)
    ap.add_argument("--keyword", action="append", default=[], help="a keyword query (repeatable)")
    ap.add_argument("--regex", action="append", default=[], help="a regex query (repeatable)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    queries = [(f"keyword {k!r}", SearchQuery(keywords=(k,))) for k in args.keyword]
    queries += [(f"regex {r!r}", SearchQuery(regexes=(r,))) for r in args.regex]
    with Case.open(args.case, read_only=True) as case:
        events = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        out: dict[str, Any] = {"case": str(args.case), "events": events, "rounds": args.rounds, "queries": {}}
        for label, q in queries or DEFAULT_QUERIES:
            out["queries"][label] = bench_query(args.case, case, q, args.rounds)
    if args.json:
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"case {out['case']}: {events} events, median of {args.rounds} alternating rounds")
    head = f"{'query':32} {'cols':>5} {'hits':>8} {'search':>8} {'cli':>8} {'filter':>8} {'read':>8} {'s/filter':>9} {'s/read':>7}"
    print(head)
    for label, r in out["queries"].items():
        print(
            f"{label:32} {r['columns']:>5} {r['hits']:>8} {r['search_s']:>8} {r['cli_s']:>8} {r['bare_filter_s']:>8} "
            f"{r['bare_read_s']:>8} {r['search_over_bare_filter']:>9} {r['search_over_bare_read']:>7}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

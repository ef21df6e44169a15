"""Peak memory of ingest on a hostile shape: one new EventData name per event.

    python bench/wide_fields.py [--sizes 5000,10000,20000] [--paths c,python]

Writes an EVTX file per size whose every record carries one field name no other record has
(an attacker who can write events can write this), then ingests it in a fresh process with
one worker, once without the column limit (``FORENSICS_MAX_NATIVE_COLUMNS=0``, the behaviour
before ``extra_fields``) and once with it, on the C flattener path and the row path, and
prints each run's peak RSS, wall time and the growth from one size to the next (2x events:
about 2x memory when it is linear, 4x when it grows with the square). Runs alternate.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from forensics.schema import MAX_NATIVE_COLUMNS  # noqa: E402
from forensics.testing.evtx_writer import WinEvent, write_evtx  # noqa: E402

# VmHWM: this process's own peak (ru_maxrss would include the parent's, as vfork + exec keep it)
CHILD = """
import re, sys
from pathlib import Path
from forensics.ingest.runner import ingest_paths
s = ingest_paths(Path(sys.argv[2]), [Path(sys.argv[1])], workers=1)
print(s.rows, re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
"""


def wide_evtx(path: Path, n: int) -> Path:
    """``n`` events, each with a shared field and one field of its own name."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    events = (
        WinEvent("Contoso-App", 1000, t0 + timedelta(seconds=i), "Application", "WS01",
                 event_data=(("User", "u"), (f"Field_{i:06d}", f"value {i}")))
        for i in range(n)
    )  # fmt: skip
    return write_evtx(path, events)


def run(evtx: Path, case: Path, limit: int, path: str) -> tuple[int, float, float]:
    """(rows, peak RSS MiB, seconds) of one ingest in a fresh process."""
    env = {**os.environ, "FORENSICS_MAX_NATIVE_COLUMNS": str(limit)}
    if path == "python":
        env["FORENSICS_NO_FAST_EVTX"] = "1"
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(evtx), str(case)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1024, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="5000,10000,20000")
    ap.add_argument("--paths", default="c,python")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="wide-bench-") as tmp:
        root = Path(tmp)
        files = {n: wide_evtx(root / f"wide-{n}.evtx", n) for n in sizes}
        print(f"limit: {MAX_NATIVE_COLUMNS} native columns per part (0 = no limit, the behaviour before)")
        print(
            f"{'path':7} {'events':>7} {'limit':>6} {'rows':>7} {'peak RSS MiB':>13} {'s':>6} {'x prev size':>11}"
        )
        for path in args.paths.split(","):
            prev: dict[int, float] = {}
            for n in sizes:
                for limit in (0, MAX_NATIVE_COLUMNS):  # alternate before / after at each size
                    rows, rss, secs = run(files[n], root / f"case-{path}-{n}-{limit}", limit, path)
                    growth = f"{rss / prev[limit]:.2f}" if limit in prev else ""
                    prev[limit] = rss
                    print(
                        f"{path:7} {n:>7} {limit:>6} {rows:>7} {rss:>13.0f} {secs:>6.1f} {growth:>11}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

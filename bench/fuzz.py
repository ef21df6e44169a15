"""EVTX fuzzing: mutated files through the whole ingest, counting crashes, hangs and loss.

    python bench/fuzz.py [--count N] [--seed S] [--corpus DIR | --no-corpus] [--batch K]
                         [--timeout SEC] [--sanitize] [--wide]

Seeds are EVTX files generated with ``forensics.testing.evtx_writer`` (several chunks, event
and user data, long and non-ASCII values) plus, unless ``--no-corpus``, small EVTX files of
the test corpus (``../shared/data`` by default; read, never modified). Each mutant is one
seeded mutation: a cut, flipped bytes, a span zeroed or overwritten, a damaged chunk or
record header, chunks repeated or swapped, two files spliced. Mutants are ingested in child
processes, ``--batch`` files per child (workers=1, the EVTX fast path when built); a child that
dies or outlives ``--timeout`` is re-run file by file to name the mutant responsible.

``--sanitize`` builds ``forensics/ingest/_evtxflat.c`` with ``-fsanitize=address,undefined``
(gcc) into a temporary folder and runs the children with that module and libasan preloaded:
any memory error or undefined behaviour aborts the child and counts as a crash.

Prints: mutants tried, crashes, hangs, records claimed by the files' headers against rows,
carved rows, rejects and shortfall, the inputs by status, and any input that claims more than
it yielded yet says ``ok`` (never allowed). ``--wide`` also prints the wide-field peak RSS from
``bench/wide_fields.py`` when that benchmark is present. Exit status 1 on any crash, hang,
sanitizer report or silent loss.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from forensics.ingest.evtx_chunks import CHUNK_SIZE, FILE_HEADER_SIZE, RECORD_MAGIC  # noqa: E402
from forensics.testing.evtx_writer import WinEvent, evtx_bytes  # noqa: E402

# The child: ingest one folder (optionally with the sanitized flattener), print the inputs rows.
CHILD = r"""
import json, sys
so = sys.argv[3]
if so:
    import importlib.util
    import forensics.ingest
    spec = importlib.util.spec_from_file_location("forensics.ingest._evtxflat", so)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sys.modules["forensics.ingest._evtxflat"] = mod
    forensics.ingest._evtxflat = mod
from pathlib import Path
from forensics.ingest import evtx_fast
from forensics.ingest.runner import ingest_paths
from forensics.store import Case
if so:
    assert evtx_fast._evtxflat is not None and evtx_fast._evtxflat.__file__ == so, "sanitized module not in use"
ingest_paths(Path(sys.argv[2]), [Path(sys.argv[1])], workers=1)
with Case.open(Path(sys.argv[2]), read_only=True) as case:
    cur = case.con.execute("SELECT path, parser, status, rows, rejects, records_claimed, records_carved, records_shortfall FROM inputs")
    names = [d[0] for d in cur.description]
    print(json.dumps([dict(zip(names, r)) for r in cur.fetchall()]))
"""


def seed_events(n: int, rng: random.Random) -> list[WinEvent]:
    """Varied events: logons, process creations with long command lines, log clearing."""
    t0 = datetime(2024, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        ts = t0 + timedelta(seconds=i)
        kind = i % 3
        if kind == 0:
            out.append(WinEvent("Microsoft-Windows-Security-Auditing", 4624, ts, "Security", "DC01.corp.local",
                                event_data=(("TargetUserName", f"user{i}"), ("LogonType", "3"),
                                            ("IpAddress", f"10.0.{i % 250}.{i % 200}"))))  # fmt: skip
        elif kind == 1:
            cmd = "powershell -enc " + "QUJD" * rng.randrange(1, 200) + " «ünïcødé» 漢字"
            out.append(WinEvent("Microsoft-Windows-Sysmon", 1, ts, "Microsoft-Windows-Sysmon/Operational", "WS1",
                                event_data=(("Image", "C:\\Windows\\System32\\cmd.exe"), ("CommandLine", cmd),
                                            ("ParentImage", None), ("Hashes", "MD5=00,SHA256=11"))))  # fmt: skip
        else:
            out.append(WinEvent("Microsoft-Windows-Eventlog", 1102, ts, "Security", "DC01",
                                user_data=("LogFileCleared", (("SubjectUserName", "admin"), ("SubjectDomainName", "CORP")))))  # fmt: skip
    return out


def seeds(corpus: Path | None, rng: random.Random, limit: int = 24) -> list[bytes]:
    """Generated files, and small corpus EVTX files when a corpus is given."""
    out = [evtx_bytes(seed_events(n, rng)) for n in (5, 150, 700)]
    if corpus is not None and corpus.is_dir():
        files = sorted((p for p in corpus.rglob("*.evtx") if p.is_file() and p.stat().st_size <= 1 << 20),
                       key=lambda p: (p.stat().st_size, str(p)))  # fmt: skip
        step = max(1, len(files) // limit)
        out += [p.read_bytes() for p in files[::step][:limit]]
    return out


def mutate(data: bytes, other: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of ``data``: (what was done, the bytes)."""
    b = bytearray(data)
    n = len(b)
    kind = rng.choice(["cut", "flip", "zero", "junk", "chunk_header", "record_header", "chunk_dup", "splice"])
    if kind == "cut":
        del b[rng.randrange(1, n) :]
    elif kind == "flip":
        for _ in range(rng.randrange(1, 64)):
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind in ("zero", "junk"):
        at, size = rng.randrange(n), rng.randrange(1, 8192)
        span = bytes(size) if kind == "zero" else rng.randbytes(size)
        b[at : at + size] = span[: max(0, min(size, n - at))]
    elif kind == "chunk_header":
        chunks = max(1, (n - FILE_HEADER_SIZE) // CHUNK_SIZE)
        base = FILE_HEADER_SIZE + rng.randrange(chunks) * CHUNK_SIZE
        for _ in range(rng.randrange(1, 8)):
            at = base + rng.randrange(0, 512)
            if at < n:
                b[at] = rng.randrange(256)
    elif kind == "record_header":
        hits = [i for i in range(0, n, 4) if b[i : i + 4] == RECORD_MAGIC][:5000]
        if hits:
            at = rng.choice(hits)
            b[at + rng.randrange(0, 24)] = rng.randrange(256)
    elif kind == "chunk_dup":
        chunks = (n - FILE_HEADER_SIZE) // CHUNK_SIZE
        if chunks >= 1:
            i = rng.randrange(chunks)
            chunk = b[FILE_HEADER_SIZE + i * CHUNK_SIZE : FILE_HEADER_SIZE + (i + 1) * CHUNK_SIZE]
            b += chunk if rng.random() < 0.5 else chunk[: rng.randrange(1, len(chunk))]
    else:
        cut = rng.randrange(1, n)
        b = b[:cut] + other[rng.randrange(len(other)) :]
    return kind, bytes(b)


def sanitized_module(tmp: Path) -> tuple[Path, dict[str, str]]:
    """``_evtxflat`` built with ASan + UBSan, and the environment that loads it."""
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("--sanitize needs gcc (apt-get install gcc)")
    libasan = subprocess.run(
        [gcc, "-print-file-name=libasan.so"], capture_output=True, text=True
    ).stdout.strip()
    if not os.path.isabs(libasan):
        sys.exit("--sanitize needs libasan (Debian: it comes with gcc's libgcc-*-dev)")
    so = tmp / ("_evtxflat_san" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
    cmd = [gcc, "-shared", "-fPIC", "-g", "-O1", "-std=c11", "-fno-omit-frame-pointer",
           "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
           f"-I{sysconfig.get_paths()['include']}", str(REPO / "forensics/ingest/_evtxflat.c"), "-o", str(so)]  # fmt: skip
    subprocess.run(cmd, check=True)
    env = {
        "LD_PRELOAD": libasan,
        # CPython keeps memory for the process's life: leaks are not what this looks for
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
        "PYTHONMALLOC": "malloc",  # every Python allocation through ASan's malloc
    }
    return so, env


class Runner:
    """Children that ingest a folder each; crashes and hangs are narrowed to one file."""

    def __init__(self, work: Path, timeout: float, so: Path | None, env: dict[str, str]) -> None:
        self.work, self.timeout, self.so = work, timeout, so
        self.env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        self.crashes: list[tuple[str, str]] = []
        self.hangs: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.children = 0

    def _child(self, folder: Path) -> tuple[str, Any]:
        case = folder.with_name(folder.name + "-case")
        shutil.rmtree(case, ignore_errors=True)
        self.children += 1
        cmd = [sys.executable, "-c", CHILD, str(folder), str(case), str(self.so or "")]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout, env=self.env)
        except subprocess.TimeoutExpired:
            return "hang", None
        finally:
            shutil.rmtree(case, ignore_errors=True)
        if p.returncode != 0:
            return "crash", (p.stderr or "")[-2000:]
        return "ok", json.loads(p.stdout.strip().splitlines()[-1])

    def run(self, folder: Path) -> None:
        """One batch; file by file again when the batch died or hung."""
        outcome, payload = self._child(folder)
        if outcome == "ok":
            self.rows += payload
            return
        for f in sorted(folder.iterdir()):
            one = self.work / f"one-{f.stem}"
            one.mkdir()
            shutil.copy2(f, one / f.name)
            outcome, payload = self._child(one)
            if outcome == "ok":
                self.rows += payload
            elif outcome == "hang":
                self.hangs.append(f.name)
            else:
                self.crashes.append((f.name, payload))
            shutil.rmtree(one)


def report(r: Runner, tried: int, kinds: Counter[str], seconds: float) -> int:
    """Print the figures; the exit status (1 on any crash, hang or silent loss)."""
    evtx = [x for x in r.rows if x["parser"] == "evtx"]
    claimed = sum(x["records_claimed"] or 0 for x in evtx)
    rows = sum(x["rows"] or 0 for x in evtx)
    carved = sum(x["records_carved"] or 0 for x in evtx)
    rejects = sum(x["rejects"] or 0 for x in evtx)
    short = sum(x["records_shortfall"] or 0 for x in evtx)
    silent = [x["path"] for x in evtx
              if x["status"] in ("ok", "rejects") and x["rows"] + x["rejects"] < (x["records_claimed"] or 0)]  # fmt: skip
    print(f"mutated EVTX tried:      {tried} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
    print(f"child processes:         {r.children} in {seconds:.0f} s")
    print(f"crashes:                 {len(r.crashes)}")
    print(f"hangs:                   {len(r.hangs)}")
    print(
        f"read as EVTX:            {len(evtx)} (others by status: {dict(Counter(x['status'] for x in r.rows if x['parser'] != 'evtx'))})"
    )
    print(f"records claimed:         {claimed}")
    print(f"rows recovered:          {rows} ({carved} carved), rejects {rejects}, shortfall {short}")
    if claimed:
        print(
            f"recovered / claimed:     {rows / claimed:.3f} (rows + rejects: {(rows + rejects) / claimed:.3f})"
        )
    print(f"EVTX inputs by status:   {dict(sorted(Counter(x['status'] for x in evtx).items()))}")
    print(f"ok with fewer than claimed (never allowed): {len(silent)}")
    for name, err in r.crashes[:5]:
        print(f"--- crash on {name}:\n{err}")
    for name in r.hangs[:5]:
        print(f"--- hang on {name}")
    for path in silent[:5]:
        print(f"--- silent loss: {path}")
    return 1 if r.crashes or r.hangs or silent else 0


def wide_fields() -> None:
    """The wide-field peak RSS figure (issue 11 item 6), from its own benchmark when present."""
    bench = REPO / "bench" / "wide_fields.py"
    if not bench.exists():
        print("wide-field peak RSS:     not measured (bench/wide_fields.py is not in this tree)")
        return
    print("wide-field peak RSS (bench/wide_fields.py):", flush=True)
    subprocess.run([sys.executable, str(bench)], check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=400, help="mutants to try (default 400)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--no-corpus", action="store_true", help="generated seeds only")
    ap.add_argument("--batch", type=int, default=25, help="mutants per child process")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a child counts as hung")
    ap.add_argument("--sanitize", action="store_true", help="ASan + UBSan build of the C flattener")
    ap.add_argument("--wide", action="store_true", help="also print the wide-field peak RSS")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    pool = seeds(None if a.no_corpus else a.corpus, rng)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="evtx-fuzz-") as tmp:
        work = Path(tmp)
        so, env = sanitized_module(work) if a.sanitize else (None, {})
        runner = Runner(work, a.timeout, so, env)
        kinds: Counter[str] = Counter()
        for first in range(0, a.count, a.batch):
            folder = work / f"batch-{first:05d}"
            folder.mkdir()
            for i in range(first, min(a.count, first + a.batch)):
                kind, data = mutate(rng.choice(pool), rng.choice(pool), rng)
                kinds[kind] += 1
                (folder / f"m{i:05d}-{kind}.evtx").write_bytes(data)
            runner.run(folder)
            shutil.rmtree(folder)
        status = report(runner, a.count, kinds, time.perf_counter() - start)
    print(f"flattener build:         {'ASan + UBSan' if a.sanitize else 'as installed'}")
    if a.wide:
        wide_fields()
    return status


if __name__ == "__main__":
    sys.exit(main())

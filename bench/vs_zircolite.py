"""Benchmark: ``forensics hunt`` end to end against Zircolite 3.7 on the same EVTX files, one run.

Usage::

    python bench/vs_zircolite.py [--scales 1,10] [--rounds N] [--zircolite-venv DIR] [--keep DIR] [--json]
                                 [--before SRC] [--ours-venv DIR] [--floors]

What is timed, alternately in each round (wall clock, separate processes, CLI start-up included):

- **zircolite**: ``zircolite.py -e DATA -r rules/rules_windows_generic.json`` (2,171 converted
  SigmaHQ rules) from a writable copy of ``../shared/peers/zircolite``, in a throwaway venv
  (``--zircolite-venv``; made with ``../shared/peers/install-zircolite`` when it does not exist);
- **ours, end to end**: ``forensics hunt DATA --case NEW --sigma ../shared/data/sigma/rules``
  (ingest, Sigma + SQL hunts + IOCs + YARA, timeline, report, story);
- **ours, re-hunt**: ``forensics hunt CASE --sigma ...`` on the case the end-to-end run just made.

DATA is the 277 EVTX files of EVTX-ATTACK-SAMPLES copied into a temporary folder (1×), and for
10× ten copies of each with one byte of the file header's unused padding (offset 4095, zero in
every sample) set to the copy number, so all 2,770 files hash differently. Both tools get the
same folder. Our runs use a benchmark cache folder (``FORENSICS_CACHE_DIR``) warmed by one
untimed hunt first, as on any machine that has hunted before; Zircolite's rules come converted.

Which ``forensics`` is timed matters, and every figure says which: **ours** is the package this
interpreter imports (in a development checkout an editable install, with whatever extras the venv
has: the ``spark`` extra brings pandas, which pyarrow imports at its first conversion of Python
values, ~0.25 s; with ``PYTHONDONTWRITEBYTECODE`` set, as here, our modules are compiled again at
every start, ~0.25 s). ``--ours-venv DIR`` also times **installed**: ``forensics`` with the README's
dependencies (its quick start: ``pip install -e .``, no extras), installed by ``pip install <this
repository>`` (not editable: modules compiled once, as an editable install has them after its
first run unless ``PYTHONDONTWRITEBYTECODE`` is set) into a throwaway venv
``DIR``, made when missing and re-installed when its ``forensics`` sources differ from this
checkout's, the way Zircolite is timed from its own venv.

``--before SRC`` (a folder holding another version's ``forensics/`` package, e.g. ``git archive``
of main) times that version too, in the same rounds, on the same data, with its own warmed cache:
before and after side by side in one run. SRC's C flattener is built in place when it has none
(``setup.py build_ext --inplace``): without it ingest takes the row-by-row path and the figure
would not be that version's. Each of our runs also reports the hunt's own Sigma time (its
``time: sigma`` line).

Every run is timed in wall seconds and in CPU seconds (the process and the children it waited
for, from ``getrusage``): on a shared machine the CPU figure does not count waiting for a core.
Zircolite runs on one core; ours use two where they can, so the wall ratio is the better one on a
quiet machine and the CPU ratio the steadier one on a loaded machine.

``--floors`` also times, in the same rounds, what bounds the re-hunt from below on each side:
**zircolite_db**, Zircolite re-running its rules on the SQLite database it saved of the same files
(``--db-input``; the database is saved once per scale by an untimed run with ``--dbfile``), and
**ours_sigma** (and ``installed_ours_sigma``), our re-hunt of the round's case with the Sigma rules
alone: no SQL hunts, IOC lists, YARA or outputs (``--no-default-queries --no-default-iocs
--no-outputs``). The re-hunt goal (0.5x Zircolite's end-to-end time at 1x) is printed beside them.

Then one instrumented in-process run per scale says where our time goes: ingest, each hunt kind,
and each output function (calls and seconds). Medians of the rounds and the ratios are printed.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SAMPLES = SHARED / "data" / "EVTX-ATTACK-SAMPLES"
SIGMA = SHARED / "data" / "sigma" / "rules"
PEER = SHARED / "peers" / "zircolite"
INSTALL = SHARED / "peers" / "install-zircolite"
PAD_OFFSET = 4095  # last byte of the 4 KiB file header block; the header proper is 128 bytes

# Functions whose calls and time the breakdown run records (module, attribute).
TIMED: tuple[tuple[str, str], ...] = (
    ("forensics.ingest.runner", "ingest_paths"),
    ("forensics.hunt.engine", "_sigma"),
    ("forensics.hunt.engine", "_sql"),
    ("forensics.hunt.engine", "_iocs"),
    ("forensics.hunt.engine", "_yara"),
    ("forensics.hunt.engine", "run_hunt"),
    ("forensics.integrity", "assess"),
    ("forensics.integrity", "clearings"),
    ("forensics.integrity", "clock_skew"),
    ("forensics.story", "build_story"),
    ("forensics.story", "_cleared"),
    ("forensics.timeline", "build_timeline"),
    ("forensics.timeline", "write_timeline"),
    ("forensics.report", "render_report"),
    ("forensics.case_outputs", "analyse"),
    ("forensics.case_outputs", "write_case_outputs"),
)


# ---- data ------------------------------------------------------------------------------------
def sample_files() -> list[Path]:
    """The EVTX-ATTACK-SAMPLES files, sorted."""
    return sorted(SAMPLES.rglob("*.evtx"))


def make_data(dest: Path, scale: int) -> int:
    """Copy the samples ``scale`` times into ``dest`` (copies past the first have a padding byte set)."""
    n = 0
    for k in range(scale):
        for f in sample_files():
            out = dest / f"copy{k:02d}" / f.relative_to(SAMPLES)
            out.parent.mkdir(parents=True, exist_ok=True)
            data = bytearray(f.read_bytes())
            if scale > 1:
                if data[PAD_OFFSET] != 0:
                    raise SystemExit(f"{f}: header padding byte {PAD_OFFSET} is not zero")
                data[PAD_OFFSET] = k + 1
            out.write_bytes(bytes(data))
            n += 1
    return n


# ---- the peer --------------------------------------------------------------------------------
def zircolite_python(venv: Path) -> Path:
    """The throwaway venv's interpreter, installed with the peer's own script when missing."""
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"installing Zircolite's requirements into {venv} ...", file=sys.stderr)
        subprocess.run([str(INSTALL), str(venv)], check=True, stdout=subprocess.DEVNULL)
    return py


def run_zircolite(py: Path, zdir: Path, data: Path, out: Path, cpu: list[float] | None = None,
                  extra: Sequence[str] = ()) -> float:  # fmt: skip
    """Seconds for one Zircolite run over ``data``; its detections go to ``out``; its CPU seconds
    (the process and what it waited for) are appended to ``cpu``. ``extra``: more of its options
    (``--dbfile DB`` saves its database; ``--db-input`` reads ``data`` as such a database)."""
    cmd = [str(py), "zircolite.py", "-e", str(data), "-r", "rules/rules_windows_generic.json",
           "-o", str(out), "-l", str(out.with_suffix(".log")), *extra]  # fmt: skip
    took, used, _ = _timed(cmd, zdir, os.environ.copy(), "zircolite")
    if cpu is not None:
        cpu.append(used)
    return took


# ---- ours ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ours:
    """One ``forensics`` to time: an interpreter, and the sources put first on its path (if any)."""

    tag: str  # "" (this interpreter's package), "installed_", "before_"
    python: Path
    src: Path | None = None  # PYTHONPATH (another version's sources)
    isolated: bool = False  # PYTHONPATH dropped: the venv's own installed package only


def our_env(cache: Path, src: Path | None = None, isolated: bool = False) -> dict[str, str]:
    """Environment for our runs: the benchmark's rule cache, no colour codes; ``src``: the code to run;
    ``isolated``: no PYTHONPATH at all (an installed package, as its user runs it)."""
    env = {**os.environ, "FORENSICS_CACHE_DIR": str(cache), "NO_COLOR": "1", "COLUMNS": "160"}
    if isolated:
        env.pop("PYTHONPATH", None)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def run_ours(target: Path, case: Path | None, cache: Path, cwd: Path, src: Path | None = None,
             sigma: list[float] | None = None, who: Ours | None = None,
             cpu: list[float] | None = None, extra: Sequence[str] = ()) -> float:  # fmt: skip
    """Seconds for ``forensics hunt TARGET [--case CASE] --sigma SIGMA [EXTRA]`` in a fresh process
    (``src``: another version's sources; ``who``: which interpreter and sources, instead); the
    hunt's own Sigma seconds are appended to ``sigma``, its CPU seconds to ``cpu``."""
    who = who or Ours("", Path(sys.executable), src)
    cmd = [str(who.python), "-m", "forensics", "hunt", str(target), "--sigma", str(SIGMA), *extra]
    if case is not None:
        cmd[4:4] = ["--case", str(case)]
    took, used, stderr = _timed(cmd, cwd, our_env(cache, who.src, who.isolated), "forensics hunt", ok=(0, 3))
    if cpu is not None:
        cpu.append(used)
    m = re.search(r"time: sigma ([0-9.]+)s", stderr)
    if sigma is not None and m:
        sigma.append(float(m.group(1)))
    return took


PROBE = (
    "import importlib.util, sys, forensics, forensics.ingest.evtx_fast as e; "
    "print(forensics.__file__); print(e.available()); print(importlib.util.find_spec('pandas') is not None); "
    "print(sys.dont_write_bytecode)"
)


def describe(who: Ours, cwd: Path) -> dict[str, Any]:
    """Where ``who``'s ``forensics`` comes from and what its start-up pays for; refuses a version
    without the EVTX fast path (its ingest would be the row-by-row fallback, not that version's)."""
    proc = subprocess.run([str(who.python), "-c", PROBE], cwd=cwd, env=our_env(cwd, who.src, who.isolated),
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"cannot import forensics with {who.python}: {proc.stderr[-2000:]}")
    where, fast, pandas, no_pyc = proc.stdout.split()
    if fast != "True":
        raise SystemExit(f"{where}: the EVTX C flattener is not built (ingest would take the row path)")
    return {"package": str(Path(where).parent), "python": str(who.python), "pandas": pandas == "True",
            "writes_pyc": no_pyc != "True"}  # fmt: skip


def build_flattener(src: Path) -> None:
    """Build SRC's EVTX C flattener in place when it has none (a ``git archive`` has only the C source)."""
    if any((src / "forensics" / "ingest").glob("_evtxflat*.so")):
        return
    print(f"building the EVTX C flattener in {src} ...", file=sys.stderr)
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-q"], cwd=src,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"building {src}'s C flattener failed: {proc.stderr[-2000:]}")


def sources_digest(package: Path) -> str:
    """SHA-256 over a ``forensics`` package's Python sources (relative paths and bytes)."""
    h = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        if "__pycache__" not in f.parts:
            h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def installed_python(venv: Path, cwd: Path) -> Path:
    """The interpreter of a venv holding ``forensics`` installed from this checkout as the README
    does it (``pip install REPO``: not editable, no extras); made when missing, re-installed when
    its sources are not this checkout's."""
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"making {venv}: python -m venv, pip install {REPO} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    elif _importable(py, cwd):
        where = Path(describe(Ours("installed_", py, isolated=True), cwd)["package"])
        if sources_digest(where) == sources_digest(REPO / "forensics"):
            return py
        print(f"re-installing forensics from {REPO} into {venv} ...", file=sys.stderr)
        pip = [str(py), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(REPO)]
        subprocess.run(pip, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
    # its dependencies as the README's install resolves them (a no-op for what is already there)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(REPO)], check=True, cwd=cwd, stdout=subprocess.DEVNULL
    )
    return py


def _importable(py: Path, cwd: Path) -> bool:
    env = our_env(cwd, isolated=True)
    return subprocess.run([str(py), "-c", "import forensics"], cwd=cwd, env=env, capture_output=True,
                          check=False).returncode == 0  # fmt: skip


def _timed(
    cmd: list[str], cwd: Path, env: dict[str, str], what: str, ok: tuple[int, ...] = (0,)
) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and the children it waited for, its stderr).

    The CPU figure is the steadier one on a shared machine: it does not count waiting for a core.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"{what} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, used, proc.stderr


# ---- where the time goes ---------------------------------------------------------------------
def breakdown(data: Path, case: Path, cache: Path) -> dict[str, Any]:
    """One instrumented ``forensics hunt`` run in this process: seconds and calls per function."""
    import importlib

    os.environ.update(our_env(cache))
    stats: dict[str, list[float]] = defaultdict(list)

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                stats[name].append(time.perf_counter() - start)

        return timed

    from forensics.cli import app  # imports every module the command uses

    for mod_name, attr in TIMED:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        orig = getattr(mod, attr, None)
        if orig is None:
            continue
        timed = wrap(f"{mod_name.removeprefix('forensics.')}.{attr}", orig)
        for m in list(sys.modules.values()):  # every module that bound the name by import
            if getattr(m, "__name__", "").startswith("forensics") and getattr(m, attr, None) is orig:
                setattr(m, attr, timed)
    start = time.perf_counter()
    try:
        app(["hunt", str(data), "--case", str(case), "--sigma", str(SIGMA)], standalone_mode=False)
    finally:
        sys.stdout.flush()
    total = time.perf_counter() - start
    return {"total_s": round(total, 3),
            "functions": {k: {"calls": len(v), "s": round(sum(v), 3)} for k, v in sorted(stats.items())}}  # fmt: skip


def _breakdown_child(data: Path, case: Path, cache: Path) -> dict[str, Any]:
    """Run ``breakdown`` in a child process (its patches and imports stay out of this one)."""
    cmd = [sys.executable, __file__, "--_breakdown", str(data), str(case), str(cache)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=our_env(cache))
    if proc.returncode != 0:
        raise SystemExit(f"breakdown failed: {proc.stderr[-2000:]}")
    line = [x for x in proc.stdout.splitlines() if x.startswith('{"total_s"')][-1]
    result: dict[str, Any] = json.loads(line)
    return result


# ---- the run ---------------------------------------------------------------------------------
# our re-hunt with the Sigma rules alone (``--floors``)
SIGMA_ONLY = ("--no-default-queries", "--no-default-iocs", "--no-outputs")


def bench_scale(scale: int, rounds: int, work: Path, zpy: Path, zdir: Path, cache: Path,
                before: Path | None = None, variants: list[Ours] | None = None,
                floors: bool = False) -> dict[str, Any]:  # fmt: skip
    """Rounds of Zircolite / ours end to end / ours re-hunt (and the same for each of ``variants``:
    the installed package, ``before``'s code) at one scale, then the breakdown. ``floors``: also
    Zircolite on its saved database and our Sigma-only re-hunt (module docstring)."""
    if variants is None:
        variants = [Ours("", Path(sys.executable))] + (
            [Ours("before_", Path(sys.executable), before)] if before else []
        )
    data = work / f"data{scale}x"
    files = make_data(data, scale)
    print(f"\n== {scale}x: {files} EVTX files in {data}", file=sys.stderr)
    times: dict[str, list[float]] = defaultdict(list)
    zdb = work / f"z{scale}x.db"
    if floors:  # untimed: the database Zircolite re-hunts in the rounds
        zdb.unlink(missing_ok=True)
        run_zircolite(zpy, zdir, data, work / f"z{scale}x-save.json", extra=["--dbfile", str(zdb)])
    for r in range(rounds):
        case = work / f"case{scale}x-{r}"
        order: list[Ours | None] = [None, *variants]  # None: Zircolite
        for who in order if r % 2 == 0 else order[::-1]:
            if who is None:
                times["zircolite"].append(
                    run_zircolite(zpy, zdir, data, work / f"z{scale}x-{r}.json", times["cpu_zircolite"])
                )
                if floors:
                    times["zircolite_db"].append(run_zircolite(
                        zpy, zdir, zdb, work / f"z{scale}x-db-{r}.json", times["cpu_zircolite_db"], ["--db-input"]
                    ))  # fmt: skip
                continue
            tag = who.tag
            where = case.with_name(f"{case.name}-{tag.rstrip('_')}") if tag else case
            home = cache.with_name(f"{cache.name}-{tag.rstrip('_')}") if tag else cache
            # end to end into a new case, a re-hunt of it, and (--floors) Sigma alone on it
            runs: list[tuple[str, Path, Path | None, Sequence[str]]] = [
                ("e2e", data, where, ()), ("rehunt", where, None, ())
            ]  # fmt: skip
            runs += [("sigma", where, None, SIGMA_ONLY)] if floors else []
            for kind, target, into, extra in runs:
                sigma = times[f"{tag}sigma_{kind}"] if not extra else None  # its own Sigma seconds
                times[f"{tag}ours_{kind}"].append(run_ours(
                    target, into, home, work, sigma=sigma, who=who, cpu=times[f"cpu_{tag}ours_{kind}"], extra=extra
                ))  # fmt: skip
            shutil.rmtree(where, ignore_errors=True)
        print(
            f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items() if v),
            file=sys.stderr,
        )
    med = {k: statistics.median(v) for k, v in times.items() if v}
    bd = _breakdown_child(data, work / f"case{scale}x-breakdown", cache)
    shutil.rmtree(work / f"case{scale}x-breakdown", ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    return {
        "scale": scale, "files": files, "rounds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "median_s": {k: round(v, 3) for k, v in med.items()},
        "e2e_ratio": round(med["ours_e2e"] / med["zircolite"], 2),
        "rehunt_ratio": round(med["ours_rehunt"] / med["zircolite"], 2),
        **{f"cpu_{tag}{kind}_ratio": round(med[f"cpu_{tag}ours_{kind}"] / med["cpu_zircolite"], 2)
           for tag in ("", "before_", "installed_") if f"cpu_{tag}ours_e2e" in med for kind in ("e2e", "rehunt")},
        **{f"{tag}{kind}_ratio": round(med[f"{tag}ours_{kind}"] / med["zircolite"], 2)
           for tag in ("before_", "installed_") if f"{tag}ours_e2e" in med for kind in ("e2e", "rehunt")},
        "breakdown": bd,
    }  # fmt: skip


def print_result(res: dict[str, Any]) -> None:
    """The figures of one scale as text: wall and CPU seconds (medians), each with its ratio to Zircolite."""
    m = res["median_s"]
    print(
        f"\n{res['scale']}x ({res['files']} EVTX files), median of {len(res['rounds']['zircolite'])} rounds"
    )
    print(f"  {'':34} {'wall s':>8} {'ratio':>7} {'CPU s':>8} {'ratio':>7}")
    cpu_z = m.get("cpu_zircolite")
    print(f"  {'zircolite 3.7 (generic ruleset)':34} {m['zircolite']:8.2f} {'':7} {_cpu(cpu_z)}")
    for tag, label in (("", "ours"), ("installed_", "installed"), ("before_", "before")):
        if f"{tag}ours_e2e" not in m:
            continue
        for kind, what in (("e2e", "end to end"), ("rehunt", "re-hunt of the case")):
            wall, cpu = m[f"{tag}ours_{kind}"], m.get(f"cpu_{tag}ours_{kind}")
            ratio = res[f"{tag}{kind}_ratio"]
            cpu_ratio = f"{res[f'cpu_{tag}{kind}_ratio']:6.2f}x" if f"cpu_{tag}{kind}_ratio" in res else ""
            print(f"  {label + ': ' + what:34} {wall:8.2f} {ratio:6.2f}x {_cpu(cpu)} {cpu_ratio}")
        for kind in ("e2e", "rehunt"):
            if f"{tag}sigma_{kind}" in m:
                print(f"    {'of which Sigma (' + kind + ')':32} {m[f'{tag}sigma_{kind}']:8.2f}")
    if "zircolite_db" in m:
        print(f"  floors (the re-hunt goal, 0.5x Zircolite end to end: {m['zircolite'] / 2:.2f} s):")
        print(f"    {'zircolite on its saved database':32} {m['zircolite_db']:8.2f} {'':7} {_cpu(m.get('cpu_zircolite_db'))}")
        for tag, label in (("", "ours"), ("installed_", "installed"), ("before_", "before")):
            if f"{tag}ours_sigma" in m:
                print(f"    {label + ': Sigma alone, re-hunt':32} {m[f'{tag}ours_sigma']:8.2f} "
                      f"{m[f'{tag}ours_sigma'] / m['zircolite']:6.2f}x {_cpu(m.get(f'cpu_{tag}ours_sigma'))}")  # fmt: skip
    bd = res["breakdown"]
    print(f"  where our time goes (one instrumented end-to-end run, {bd['total_s']:.2f} s in process):")
    for name, v in sorted(bd["functions"].items(), key=lambda kv: -kv[1]["s"]):
        print(f"    {name:32} {v['s']:8.2f} s  ({v['calls']} call{'s' if v['calls'] != 1 else ''})")


def _cpu(v: float | None) -> str:
    return f"{v:8.2f}" if v is not None else f"{'':8}"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every scale, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,10", help="comma-separated copies of the samples (default 1,10)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per scale (default 3)")
    ap.add_argument("--zircolite-venv", type=Path, help="Zircolite's throwaway venv (made when missing)")
    ap.add_argument("--keep", type=Path, help="work folder to use and keep (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ap.add_argument(
        "--before", type=Path, help="another version's sources (a folder holding forensics/), timed alongside"
    )
    ap.add_argument("--ours-venv", type=Path,
                    help="also time forensics installed with the README's dependencies (pip install REPO) in this throwaway venv")  # fmt: skip
    ap.add_argument("--floors", action="store_true",
                    help="also time Zircolite on its saved database and our re-hunt with the Sigma rules alone")  # fmt: skip
    ap.add_argument("--_breakdown", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._breakdown:
        print(json.dumps(breakdown(*args._breakdown)))
        return 0
    if not SAMPLES.is_dir() or not PEER.is_dir():
        print(f"needs {SAMPLES} and {PEER}", file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="vs-zircolite-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        zpy = zircolite_python(args.zircolite_venv or work / "zvenv")
        zdir = work / "zircolite"
        if not zdir.exists():
            shutil.copytree(PEER, zdir)
        cache = work / "cache"
        variants = [Ours("", Path(sys.executable))]
        if args.ours_venv is not None:
            variants.append(
                Ours("installed_", installed_python(args.ours_venv.absolute(), work), isolated=True)
            )
        if args.before is not None:
            build_flattener(args.before)
            variants.append(Ours("before_", Path(sys.executable), args.before.absolute()))
        installs = {v.tag.rstrip("_") or "ours": describe(v, work) for v in variants}
        for name, d in installs.items():
            print(f"{name}: forensics from {d['package']} ({d['python']}; pandas importable: {d['pandas']}; "
                  f"writes .pyc: {d['writes_pyc']})", file=sys.stderr)  # fmt: skip
        warm = work / "warm"
        make_data(warm / "data", 1)
        print("warming our rule cache (one untimed hunt each) ...", file=sys.stderr)
        colds: dict[str, float] = {}
        for v in variants:
            tag = v.tag.rstrip("_")
            home = cache.with_name(f"{cache.name}-{tag}") if tag else cache
            colds[tag or "ours"] = run_ours(warm / "data", warm / f"case-{tag or 'ours'}", home, work, who=v)
            print(f"  cold-cache end to end, {tag or 'ours'}: {colds[tag or 'ours']:.2f} s", file=sys.stderr)
        cold = colds["ours"]
        shutil.rmtree(warm, ignore_errors=True)
        results = [bench_scale(int(s), args.rounds, work, zpy, zdir, cache, args.before, variants, args.floors)
                   for s in args.scales.split(",")]  # fmt: skip
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for name, d in installs.items():
        print(
            f"{name}: forensics from {d['package']} (pandas importable: {d['pandas']}; writes .pyc: {d['writes_pyc']})"
        )
    for res in results:
        print_result(res)
    if args.json:
        print(json.dumps({"cold_cache_e2e_s": round(cold, 3), "cold_cache_e2e_by_install_s": colds,
                          "installs": installs, "results": results}, indent=1, sort_keys=True))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

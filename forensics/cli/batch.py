"""``forensics batch``: a folder of disk images or a manifest into one case, resumably."""

from __future__ import annotations

import copy
import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from forensics.cli.common import cells, err, out, print_json_line, progress_shown
from forensics.cli.engine import ConfOpt, DriverMemOpt, EngineOpt, MasterOpt, RemoteOpt, spark_options
from forensics.cli.guard import say
from forensics.cli.ingest import EXIT_PROBLEMS, check_zone, problem_printer, problems_tail
from forensics.errors import EngineError, ForensicsError
from forensics.ingest.base import ParseContext

if TYPE_CHECKING:
    from forensics.batch.driver import BatchProgress, BatchSummary
    from forensics.batch.units import ScanOptions
    from forensics.spark.session import SparkOptions

HELP = """Ingest many disk images and collections into one case: a folder of them, or a CSV/YAML manifest.

Images (E01, Ex01, VMDK, VHD, VHDX, qcow2, raw dd) are opened read-only through dissect, never
mounted. From each, the event logs under Windows/System32/winevt/Logs and /var/log (and
deleted event logs still in the NTFS MFT) are ingested with their provenance: image, volume,
path, inode / MFT entry, SHA-256. The host name and zone come from the image (SYSTEM hive,
/etc/hostname, /etc/timezone). Images run in parallel; each one's state is kept in the case,
so a batch that was stopped (even killed) continues where it stopped when run again, with
the same rows an uninterrupted run gives. One bad image never stops the others.

Collections in the folder or manifest (Velociraptor offline-collection zips, UAC tarballs, other
zip/tar archives, folders) are read after the images by the same walker as `forensics ingest`,
each one a line of the summary with the host it states; resumed the same way. With --hunt
the case is then hunted as `forensics hunt CASE` would, with the hunt options given here
(--sigma, --queries, --iocs, --yara and the rest), kept as a run of the case.

--engine spark parses on Apache Spark (docs/spark.md): the same units (list, hash, parse) run on
the executors of a classic session (--spark-master local[8], spark://HOST:7077, yarn, k8s://...) or
of a Spark Connect server (--spark-remote sc://HOST:15002), which read the images and write the
Parquet parts into the case's staging folder (the case and the evidence must lie on a path the
executors share); this command plans the units and commits each result into the case as a local
batch does: the same rows, resumed the same way. With --hunt the hunt runs on the same engine.

Manifest columns: path, host, tz, collector, collected, hash (expected MD5/SHA-1/SHA-256).

Exit codes: 0 all images done and clean; 3 an image failed or an input had a problem; 1 error; 2 usage.

Example: forensics batch /evidence/images --case cases/dims --hunt --sigma sigma/rules --iocs certin.txt
"""


# the hunt's own options that batch does not pass: it has its own (--case, --tz, --year, --json,
# and the engine's, which the hunt is given too) or they concern inputs the hunt would ingest
# itself (targets, --host)
_ENGINE_OPTIONS = ("engine", "spark_master", "spark_remote", "spark_conf", "spark_driver_memory")
_HUNT_NOT_PASSED = frozenset({"targets", "case", "tz", "year", "host", "json", *_ENGINE_OPTIONS})
HUNT_PANEL = "Hunt options (with --hunt; as forensics hunt)"


def register(app: typer.Typer) -> None:
    """Add the ``batch`` command, with the hunt's options for ``--hunt``."""
    app.command("batch", help=HELP)(batch_command())


def hunt_parameters() -> list[inspect.Parameter]:
    """``forensics hunt``'s options, as keyword parameters of ``batch`` under their own help panel.

    Taken from the hunt command itself, so every option the hunt gains (rule selection,
    tuning) is there with ``--hunt`` too, spelt and checked the same way.
    """
    from forensics.cli.hunt import hunt as hunt_command

    hints = typing.get_type_hints(hunt_command, include_extras=True)
    params = []
    for p in inspect.signature(hunt_command).parameters.values():
        if p.name in _HUNT_NOT_PASSED:
            continue
        annotation = hints[p.name]
        if typing.get_origin(annotation) is Annotated:
            base, *meta = typing.get_args(annotation)
            meta = [_in_panel(m) for m in meta]
            annotation = Annotated[(base, *meta)]  # type: ignore[valid-type]
        params.append(p.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))
    return params


def _flag(name: str) -> str:
    """The command-line spelling of the hunt option ``name`` (``yara_dirs`` -> ``--yara``)."""
    from forensics.cli.hunt import hunt as hunt_command

    meta = typing.get_args(typing.get_type_hints(hunt_command, include_extras=True)[name])[1:]
    for m in meta:
        # in Annotated, typer.Option("--yara") keeps the name as its first argument (``default``)
        first = getattr(m, "default", None)
        spelt = [first] if isinstance(first, str) else []
        decls = [d for d in [*spelt, *(getattr(m, "param_decls", None) or ())] if d.startswith("--")]
        if decls:
            return str(decls[0]).split("/")[0]
    return "--" + name.replace("_", "-")


def _in_panel(meta: object) -> object:
    if isinstance(meta, typer.models.OptionInfo):
        meta = copy.copy(meta)
        meta.rich_help_panel = HUNT_PANEL
    return meta


def batch_command() -> Callable[..., None]:
    """``batch`` with the hunt's options added to its signature (what Typer reads)."""
    own = inspect.signature(batch)
    own_hints = typing.get_type_hints(batch, include_extras=True)
    own_params = [
        p.replace(annotation=own_hints[p.name]) for p in own.parameters.values() if p.name != "hunt_options"
    ]
    extra = hunt_parameters()
    clash = {p.name for p in own_params} & {p.name for p in extra}
    if clash:  # a new hunt option with a batch option's name: say so rather than shadow one
        raise RuntimeError(f"batch and hunt both have options {sorted(clash)}: add them to _HUNT_NOT_PASSED")
    defaults = {p.name: p.default for p in extra}

    def command(**kwargs: Any) -> None:
        hunt_options = {k: kwargs.pop(k) for k in list(kwargs) if k in defaults}
        given = [_flag(k) for k, v in hunt_options.items() if v != defaults[k] and v not in (None, [])]
        if given and not kwargs.get("hunt"):
            say(f"{', '.join(given)}: hunt options, given without --hunt")
            raise typer.Exit(2)
        batch(**kwargs, hunt_options=hunt_options)

    params = [*own_params, *extra]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = batch.__doc__
    command.__name__ = "batch"
    return command


def batch(
    target: Annotated[
        Path,
        typer.Argument(help="Folder of images and collections, a manifest (.csv/.yaml), or one of them."),
    ],
    case: Annotated[Path, typer.Option("--case", "-c", help="Case directory (created if missing).")],
    tz: Annotated[
        str | None, typer.Option(help="Zone for records that state none, over the images' own.")
    ] = None,
    year: Annotated[int | None, typer.Option(help="Collection year, for log formats without a year.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Parallel worker processes (default: cores, bounded by memory); with --engine spark, "
            "units per Spark job (default: the session's task slots)."
        ),
    ] = None,
    path: Annotated[
        list[str] | None,
        typer.Option(
            "--path", help="Folder inside the images to read logs from (repeatable; adds to the defaults)."
        ),
    ] = None,
    no_deleted: Annotated[
        bool, typer.Option("--no-deleted", help="Skip the MFT walk for deleted event logs.")
    ] = False,
    hunt: Annotated[
        bool, typer.Option("--hunt", help="Run the hunt and write its outputs when ingest completes.")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    engine: EngineOpt = "duckdb",
    spark_master: MasterOpt = None,
    spark_remote: RemoteOpt = None,
    spark_conf: ConfOpt = None,
    spark_driver_memory: DriverMemOpt = None,
    hunt_options: dict[str, Any] | None = None,
) -> None:
    """Ingest a folder or manifest of disk images into one case (``hunt_options``: for ``--hunt``)."""
    if tz is not None:
        check_zone(tz)
    spark = spark_options(engine, spark_master, spark_remote, spark_conf, spark_driver_memory)
    hunt_options = hunt_options or {}
    # the batch machinery (dissect, every parser) loads only for this command: CLI start-up
    from forensics.batch.manifest import specs_from
    from forensics.batch.units import ScanOptions
    from forensics.images.reader import DEFAULT_LOCATIONS

    if hunt:
        _check_hunt_paths(hunt_options)  # a mistyped --sigma fails now, not after the night's batch
    try:
        specs = specs_from(target)
    except (ForensicsError, OSError) as exc:
        say(str(exc))
        raise typer.Exit(2) from exc
    if not specs:
        say(f"no disk image or collection found in {target}")
        raise typer.Exit(2)
    scan = ScanOptions(tuple(dict.fromkeys([*DEFAULT_LOCATIONS, *(path or [])])), not no_deleted)
    ctx = ParseContext(tz=tz, reference_year=year)
    engine_record: dict[str, Any] | None = None
    if spark is None:
        summary = _run(case, specs, ctx, scan, workers)
    else:
        summary, engine_record = _run_spark(case, specs, ctx, scan, workers, spark)
    if json:
        print_json_line({**summary.to_dict(), **({"engine": engine_record} if engine_record else {})})
    else:
        render(summary)
        if engine_record:
            _render_engine(engine_record)
    if hunt:
        engine_options = {"engine": engine, "spark_master": spark_master, "spark_remote": spark_remote,
                          "spark_conf": spark_conf, "spark_driver_memory": spark_driver_memory}  # fmt: skip
        _hunt(case, json, {**hunt_options, **engine_options})
    if not summary.clean:
        raise typer.Exit(EXIT_PROBLEMS)


def _run_spark(
    case: Path,
    specs: list[Any],
    ctx: ParseContext,
    scan: ScanOptions,
    workers: int | None,
    options: SparkOptions,
) -> tuple[BatchSummary, dict[str, Any]]:
    """The batch with its units on Spark executors; the driver's plan and commits as in ``_run``."""
    from forensics.spark.batch import spark_batch

    err.print(f"starting the Spark session ({options.mode}) ...")
    try:
        got = spark_batch(
            case, specs, ctx, options=options, scan=scan, width=workers, on_problem=problem_printer()
        )
    except EngineError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    record = {"name": "spark", **got.options, "spark_version": got.spark_version,
              "session_seconds": round(got.session_seconds, 3), **got.stats.to_dict()}  # fmt: skip
    return got.summary, record


def _render_engine(r: dict[str, Any]) -> None:
    """One line on where the Spark batch's time went."""
    err.print(
        f"spark {r['spark_version']} ({r['mode']}): session {r['session_seconds']:.1f} s; {r['calls']} units in "
        f"{r['jobs']} jobs ({r['job_seconds']:.1f} s of jobs, {r['call_seconds']:.1f} s in the units on "
        f"{len(r['hosts'])} executor host(s)); {r['failed_calls']} failed",
        highlight=False,
    )


def _run(
    case: Path, specs: list[Any], ctx: ParseContext, scan: ScanOptions, workers: int | None
) -> BatchSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("images"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TextColumn("ETA {task.fields[eta]}"), TimeElapsedColumn(), console=err, transient=True,
        disable=not progress_shown(),
    ) as bar:  # fmt: skip
        task = bar.add_task("batch", total=len(specs), rate="", eta="?")

        def progress(p: BatchProgress) -> None:
            eta = "?" if p.eta is None else f"{p.eta:,.0f} s"
            bar.update(task, completed=p.images_done, rate=f"{p.rate / 1e6:,.1f} MB/s", eta=eta)

        from forensics.batch.driver import run_batch

        return run_batch(
            case, specs, ctx, scan=scan, workers=workers, progress=progress, on_problem=problem_printer()
        )


def render(s: BatchSummary) -> None:
    """The per-image table, after a count of the input problems not printed as they happened."""
    if s.ingest is not None:
        problems_tail(s.ingest)
    t = Table(title=f"batch into {s.case}", show_header=True)
    for name, justify in (("image", "left"), ("host", "left"), ("bytes", "right"), ("files", "right"),
                          ("rows", "right"), ("rejects", "right"), ("status", "left"), ("s", "right")):  # fmt: skip
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i in s.images:
        status = i.status if not i.error else f"{i.status}: {i.error[:80]}"
        marks = ", ".join(x for x in (f"{i.deleted_files} deleted" if i.deleted_files else "",
                                      f"{i.damaged_files} damaged" if i.damaged_files else "") if x)  # fmt: skip
        t.add_row(*cells(
            Path(i.path).name, i.host or "", f"{i.bytes:,}", str(i.files) + (f" ({marks})" if marks else ""),
            f"{i.rows:,}", f"{i.rejects:,}", status, f"{i.seconds:.1f}",
        ))  # fmt: skip
    tot = s.to_dict()["totals"]
    t.add_row("total", "", f"{tot['bytes']:,}", str(tot["files"]), f"{tot['rows']:,}", f"{tot['rejects']:,}",
              f"{tot['done']} done, {tot['failed']} failed", f"{s.seconds:.1f}")  # fmt: skip
    out.print(t)


def _check_hunt_paths(options: dict[str, Any]) -> None:
    """Exit 2 when a path given to a hunt option does not exist (the hunt checks the rest)."""
    missing = []
    for name, value in options.items():
        for p in value if isinstance(value, list) else [value]:
            if isinstance(p, Path) and not p.exists():
                missing.append(f"{_flag(name)} {p}")
    if missing:
        say(f"no such file or folder: {', '.join(missing)}")
        raise typer.Exit(2)


def _hunt(case: Path, json: bool, options: dict[str, Any]) -> None:
    """Hunt the case as ``forensics hunt CASE`` does with the same options (run and outputs kept in the case)."""
    from forensics.cli.hunt import hunt as hunt_command

    err.print(f"hunting {case} ...")
    try:
        hunt_command(targets=[case], json=json, **options)
    except typer.Exit as exc:
        if exc.exit_code not in (0, None):
            sys.exit(exc.exit_code)

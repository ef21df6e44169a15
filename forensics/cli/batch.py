"""``forensics batch``: a folder of disk images or a manifest into one case, resumably."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forensics.batch.driver import BatchProgress, BatchSummary, run_batch
from forensics.batch.manifest import specs_from
from forensics.batch.units import ScanOptions
from forensics.cli.common import err, out, print_json_line
from forensics.cli.guard import say
from forensics.cli.ingest import EXIT_PROBLEMS, check_zone
from forensics.errors import ForensicsError
from forensics.images.reader import DEFAULT_LOCATIONS
from forensics.ingest.base import ParseContext

HELP = """Ingest many disk images into one case: a folder of images, or a CSV/YAML manifest.

Images (E01, VMDK, VHD, VHDX, qcow2, raw dd) are opened read-only through dissect, never
mounted. From each, the event logs under Windows/System32/winevt/Logs and /var/log (and
deleted event logs still in the NTFS MFT) are ingested with their provenance: image, volume,
path, inode / MFT entry, SHA-256. The host name and zone come from the image (SYSTEM hive,
/etc/hostname, /etc/timezone). Images run in parallel; each one's state is kept in the case,
so a batch that was stopped (even killed) continues where it stopped when run again, with
the same rows an uninterrupted run gives. One bad image never stops the others.

Manifest columns: path, host, tz, collector, collected, hash (expected MD5/SHA-1/SHA-256).

Exit codes: 0 all images done and clean; 3 an image failed or an input had a problem; 1 error; 2 usage.

Example: forensics batch /evidence/images --case cases/dims --hunt
"""


def register(app: typer.Typer) -> None:
    """Add the ``batch`` command."""
    app.command("batch", help=HELP)(batch)


def batch(
    target: Annotated[Path, typer.Argument(help="Folder of images, a manifest (.csv/.yaml) or one image.")],
    case: Annotated[Path, typer.Option("--case", "-c", help="Case directory (created if missing).")],
    tz: Annotated[
        str | None, typer.Option(help="Zone for records that state none, over the images' own.")
    ] = None,
    year: Annotated[int | None, typer.Option(help="Collection year, for log formats without a year.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Parallel worker processes (default: cores, bounded by memory).")
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
) -> None:
    """Ingest a folder or manifest of disk images into one case."""
    if tz is not None:
        check_zone(tz)
    try:
        specs = specs_from(target)
    except (ForensicsError, OSError) as exc:
        say(str(exc))
        raise typer.Exit(2) from exc
    if not specs:
        say(f"no disk image found in {target}")
        raise typer.Exit(2)
    scan = ScanOptions(tuple(dict.fromkeys([*DEFAULT_LOCATIONS, *(path or [])])), not no_deleted)
    summary = _run(case, specs, ParseContext(tz=tz, reference_year=year), scan, workers)
    if json:
        print_json_line(summary.to_dict())
    else:
        render(summary)
    if hunt:
        _hunt(case, json)
    if not summary.clean:
        raise typer.Exit(EXIT_PROBLEMS)


def _run(
    case: Path, specs: list[Any], ctx: ParseContext, scan: ScanOptions, workers: int | None
) -> BatchSummary:
    def problem(p: dict[str, Any]) -> None:
        where = p["path"] + (f" [{p['member']}]" if p.get("member") else "")
        err.print(f"[yellow]{p['status']}[/]: {where}: {p.get('error')}", markup=True, highlight=False)

    with Progress(
        TextColumn("images"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TextColumn("ETA {task.fields[eta]}"), TimeElapsedColumn(), console=err, transient=True,
        disable=not err.is_terminal,
    ) as bar:  # fmt: skip
        task = bar.add_task("batch", total=len(specs), rate="", eta="?")

        def progress(p: BatchProgress) -> None:
            eta = "?" if p.eta is None else f"{p.eta:,.0f} s"
            bar.update(task, completed=p.images_done, rate=f"{p.rate / 1e6:,.1f} MB/s", eta=eta)

        return run_batch(case, specs, ctx, scan=scan, workers=workers, progress=progress, on_problem=problem)


def render(s: BatchSummary) -> None:
    """The per-image table."""
    t = Table(title=f"batch into {s.case}", show_header=True)
    for name, justify in (("image", "left"), ("host", "left"), ("bytes", "right"), ("files", "right"),
                          ("rows", "right"), ("rejects", "right"), ("status", "left"), ("s", "right")):  # fmt: skip
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i in s.images:
        status = i.status if not i.error else f"{i.status}: {i.error[:80]}"
        marks = ", ".join(x for x in (f"{i.deleted_files} deleted" if i.deleted_files else "",
                                      f"{i.damaged_files} damaged" if i.damaged_files else "") if x)  # fmt: skip
        t.add_row(
            Path(i.path).name, i.host or "", f"{i.bytes:,}", str(i.files) + (f" ({marks})" if marks else ""),
            f"{i.rows:,}", f"{i.rejects:,}", status, f"{i.seconds:.1f}",
        )  # fmt: skip
    tot = s.to_dict()["totals"]
    t.add_row("total", "", f"{tot['bytes']:,}", str(tot["files"]), f"{tot['rows']:,}", f"{tot['rejects']:,}",
              f"{tot['done']} done, {tot['failed']} failed", f"{s.seconds:.1f}")  # fmt: skip
    out.print(t)


def _hunt(case: Path, json: bool) -> None:
    """Hunt the case as ``forensics hunt CASE`` does (its outputs written into the case)."""
    from forensics.cli.hunt import hunt as hunt_command

    err.print(f"hunting {case} ...")
    try:
        hunt_command(targets=[case], json=json)
    except typer.Exit as exc:
        if exc.exit_code not in (0, None):
            sys.exit(exc.exit_code)

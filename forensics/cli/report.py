"""``forensics report``, ``forensics story`` and ``forensics integrity``: the investigator's view."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from forensics.case_outputs import OUTPUTS_DIR, analyse
from forensics.cli.common import err, json_line, out, print_json_line, shown
from forensics.cli.guard import output_path, say
from forensics.errors import CaseError
from forensics.integrity import assess
from forensics.navigator import layer
from forensics.report import render_report
from forensics.store import Case
from forensics.story import build_story


def register(app: typer.Typer) -> None:
    """Add the ``report``, ``story`` and ``integrity`` commands."""
    app.command(
        "report",
        help=(
            "Write the self-contained HTML report of a case (opens offline: summary, timeline chart, ATT&CK "
            "heat map, lateral-movement graph, findings with records, integrity).\n\n"
            "Example: forensics report cases/dims --out dims.html --layer dims-layer.json"
        ),
    )(report)
    app.command(
        "story",
        help="Print the incident story: phases, patient zero, entry point, lateral movement, IOCs, impact, "
        "what did not fall. Example: forensics story cases/dims --json",
    )(story)
    app.command(
        "integrity",
        help="Print how far the logs can be trusted per host: coverage, clearing, record-id gaps, clock skew. "
        "Example: forensics integrity cases/dims --json",
    )(integrity)


RUN_HELP = "Hunt run whose findings to use (forensics runs; default: the latest)."


def _run(c: Case, run: str | None) -> str | None:
    """The run id ``--run`` names (exit 1 with the runs there are when the case has no such run)."""
    try:
        return c.resolve_run(run)
    except CaseError as exc:
        c.close()
        say(str(exc))
        raise typer.Exit(1) from exc


def report(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default: CASE/outputs/report.html).")
    ] = None,
    layer_path: Annotated[
        Path | None, typer.Option("--layer", help="Also write the ATT&CK Navigator layer JSON here.")
    ] = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw/--no-raw",
            help="Show each record as re-extracted from the original input (EVTX XML / line).",
        ),
    ] = True,
    run: Annotated[str | None, typer.Option("--run", help=RUN_HELP)] = None,
    json: Annotated[bool, typer.Option("--json", help="What was written, as one JSON object.")] = False,
) -> None:
    """Write the HTML report (and optionally the Navigator layer)."""
    dest = out_path or case / OUTPUTS_DIR / "report.html"
    output_path(dest, "--out")
    if layer_path is not None:
        output_path(layer_path, "--layer")
    c = Case.open(case, read_only=True)
    try:
        a = analyse(c, _run(c, run))  # findings, integrity and story once, for the report and the layer
        html = render_report(
            c, raw_records=raw, findings=a.findings, integrity=a.integrity, story=a.story, run=a.run
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(html, encoding="utf-8", newline="\n")
        if layer_path is not None:
            layer_path.parent.mkdir(parents=True, exist_ok=True)
            layer_path.write_bytes(
                orjson.dumps(layer(c, findings=a.findings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
                + b"\n"
            )
            err.print(f"navigator layer: {shown(layer_path)}")
    finally:
        c.close()
    if json:
        print_json_line({"path": str(dest), "layer": str(layer_path) if layer_path else None, "run": a.run,
                         "findings": len(a.findings)})  # fmt: skip
        return
    err.print(f"findings of hunt run {shown(a.run)}" if a.run else "no hunt run yet: no findings")
    out.print(shown(dest))


def story(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    json: Annotated[bool, typer.Option("--json", help="The story as one JSON object.")] = False,
    run: Annotated[str | None, typer.Option("--run", help=RUN_HELP)] = None,
) -> None:
    """Print the story of the case."""
    c = Case.open(case, read_only=True)
    try:
        s = build_story(c, run=_run(c, run))
    finally:
        c.close()
    if json:
        print(json_line(s.to_dict()))
    else:
        out.print(shown(s.render_text(), newlines=True), highlight=False)


def integrity(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    json: Annotated[bool, typer.Option("--json", help="The assessment as one JSON object.")] = False,
) -> None:
    """Print the integrity assessment of the case."""
    c = Case.open(case, read_only=True)
    try:
        integ = assess(c)
    finally:
        c.close()
    if json:
        print(json_line(integ.to_dict()))
        return
    t = Table("Host", "Source", "Channel", "First (UTC)", "Last (UTC)", "Events", "Zone", title="Coverage")
    for r in integ.coverage:
        zone = r["zones"] + (" (assumed)" if r["zone_assumed"] else "")
        t.add_row(*(shown(v or "") for v in (r["host"], r["source"], r["channel"], r["first_utc"], r["last_utc"],
                                            r["events"], zone)))  # fmt: skip
    out.print(t)
    for c_ in integ.clearings:
        out.print(shown(f"log cleared: {c_['host']} {c_['cleared_channel']} at {c_['ts_utc']} by {c_['by'] or '?'}; "
                        f"gap from {c_['gap_from_utc'] or 'start of log'}"))  # fmt: skip
    for t_ in integ.tampering:
        out.print(shown(f"log tampering: {t_['host']} at {t_['ts_utc']}: {t_['command']}"))
    out.print(f"record-id gaps: {integ.record_gaps_total} ({integ.record_gaps_missing} records missing)")
    for g in integ.record_gap_summary:
        if g["missing"]:
            out.print(shown(f"  {g['host']} {g['channel']}: {g['missing']} of {g['last_record_id'] - g['first_record_id'] + 1} "
                            f"records missing between {g['first_record_id']} and {g['last_record_id']}"))  # fmt: skip
    if integ.file_shortfalls:
        short = sum(f["shortfall"] or 0 for f in integ.file_shortfalls)
        out.print(f"files short of their headers: {len(integ.file_shortfalls)} ({short} records missing)")
    for f in integ.file_shortfalls:
        where = f["path"] + (f" [{f['member']}]" if f["member"] else "")
        out.print(shown(f"  {where}: {f['status']}: headers claim {f['claimed']}, {f['rows']} rows ({f['carved']} carved), "
                        f"{f['rejects']} rejects, {f['shortfall']} missing"))  # fmt: skip
    for p in integ.clock_pairs:
        out.print(shown(f"clock: {p['target_host']} vs {p['source_host']}: {p['median_offset_s']:+.3f} s "
                        f"({p['pairs']} paired logons)"))  # fmt: skip
    offs = ", ".join(f"{h} {o:+.3f} s" for h, o in sorted(integ.offsets.items())) or "none"
    out.print(shown(f"clock offsets applied: {offs}"))

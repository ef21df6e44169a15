"""``forensics hunt``: Sigma, SQL hunts, IOC sweeps and YARA over a case in one pass."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forensics import rulesets
from forensics.cli.common import alerts, err, out, print_json_line, shown
from forensics.cli.engine import (
    ConfOpt,
    DriverMemOpt,
    EngineOpt,
    MasterOpt,
    RemoteOpt,
    SigmaOpt,
    spark_options,
)
from forensics.cli.guard import say
from forensics.cli.ingest import EXIT_PROBLEMS, check_zone, not_log_lines, problems_tail, run_ingest
from forensics.cli.progress import bars
from forensics.errors import ForensicsError
from forensics.hunt.engine import (
    EXIT_FAIL_ON,
    HuntOptions,
    HuntSummary,
    HuntUsageError,
    evidence_iocs,
    prepare_hunt,
    remember_evidence_iocs,
    run_hunt,
)
from forensics.hunt.findings import Finding, level_rank
from forensics.hunt.runs import list_runs
from forensics.hunt.sigma.tuning import build_tuning
from forensics.ingest.base import ParseContext
from forensics.rulesets import RuleSet
from forensics.store import DB_NAME, Case
from forensics.timeutil import iso_ist, iso_utc

HELP = """Hunt a case: Sigma rules, SQL hunts (forensics/queries), IOC sweeps and YARA, in one pass.

TARGETS is a case directory, or log files / folders / archives: those are first ingested into
--case (default ./cases/<name of the first input>, reported on stderr) and then hunted. The
case's input files still where ingest read them (same path, same SHA-256) are also scanned with
YARA (size limit, timeout, never executed), whether the hunt starts from the folders or the case.

Without --sigma, the Sigma rule set installed by `forensics rules update` is used (which one is
printed and kept in the run record); --no-default-sigma hunts without it.

Every hunt is kept as a new run of the case (findings/runs/<run id>/: findings, their records,
IOC table, hunt report, Sigma rule report, run.json with the command, times, options and every
rule/IOC/YARA file read with its SHA-256); earlier runs are never touched. Views: findings,
finding_records, iocs, hunt_report, rule_report (the latest run), findings_all,
finding_records_all and runs (every run). The custody log gets an "analysed" entry with the run's
hashes; `forensics verify --reproduce` re-runs it from an evidence bundle. Rule, IOC and YARA
files that fail to load are counted and reported; a path given to --sigma, --queries, --iocs or
--yara that does not exist or holds nothing usable is an error (exit 2) before anything is written.

--engine spark runs the scans (Sigma groups, SQL hunts, IOC joins) on Apache Spark over the same
parts, locally (--spark-master local[4]) or on a cluster (--spark-remote sc://HOST:15002 for Spark
Connect); the findings are the same and are written to the case the same way (docs/spark.md).
A rule that cannot be carried over to Spark SQL is reported failed with the reason.

Exit codes: 0 ok; 1 error; 2 usage; 4 a finding is at or above --fail-on LEVEL
(informational, low, medium, high, critical).

Example: forensics hunt /evidence/dims --case cases/dims --sigma sigma/rules --iocs certin.txt --fail-on high
"""


def register(app: typer.Typer) -> None:
    """Add the ``hunt`` and ``runs`` commands."""
    app.command("hunt", help=HELP)(hunt)
    app.command(
        "runs",
        help="List the hunt runs kept in a case, oldest first: id, start time (UTC and IST), exit code, "
        "findings and the command. timeline, report, story and export take --run ID (default: the latest).\n\n"
        "Example: forensics runs cases/dims",
    )(runs)


def runs(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per run.")] = False,
) -> None:
    """List the case's hunt runs."""
    try:
        with Case.open(case, read_only=True) as c:
            kept = list_runs(c)
    except ForensicsError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    if json:
        for r in kept:
            print_json_line({"run_id": r.run_id, "started_utc": iso_utc(r.started) if r.started else None,
                             "ended_utc": iso_utc(r.ended) if r.ended else None, "exit_code": r.exit_code,
                             "findings": r.findings, "argv": list(r.argv), "path": str(r.path)})  # fmt: skip
        return
    table = Table(
        "run",
        "started (UTC)",
        "started (IST)",
        "exit",
        "findings",
        "command",
        title=f"hunt runs of {shown(case)}",
    )
    for r in kept:
        table.add_row(
            shown(r.run_id), iso_utc(r.started)[:19] if r.started else "", iso_ist(r.started)[:19] if r.started else "",
            "" if r.exit_code is None else str(r.exit_code), "" if r.findings is None else str(r.findings),
            shown(" ".join(r.argv)),
        )  # fmt: skip
    out.print(table)
    if not kept:
        err.print("no hunt runs: hunt the case first (forensics hunt CASE)")


def _is_case(p: Path) -> bool:
    return (p / DB_NAME).is_file()


def _resolve_case(targets: list[Path], case: Path | None) -> tuple[Path, list[Path]]:
    """(case directory, raw inputs to ingest first)."""
    cases = [t for t in targets if _is_case(t)]
    raw = [t for t in targets if not _is_case(t)]
    if cases and raw:
        say("give either a case directory or input files/folders, not both")
        raise typer.Exit(2)
    if len(cases) > 1:
        say("hunt one case at a time")
        raise typer.Exit(2)
    if cases:
        if case is not None and case.resolve() != cases[0].resolve():
            say("--case differs from the case directory given")
            raise typer.Exit(2)
        return cases[0], []
    missing = [t for t in raw if not t.exists()]
    if missing:
        say(f"no such file or folder: {', '.join(map(str, missing))}")
        raise typer.Exit(2)
    if case is None:
        first = raw[0].resolve()
        name = first.name.split(".")[0] or "case"
        case = Path("cases") / name
        err.print(f"case: {shown(case)} (no --case given)")
    return case, raw


def _ingest(case_dir: Path, raw: list[Path], ctx: ParseContext, indicators: list[Path]) -> int:
    """Ingest what the hunt was given; the number of input problems (printed as they happen).

    ``indicators``: the IOC/YARA files and folders this hunt reads; met inside an input folder,
    they are recorded as such, not ingested as evidence.
    """
    err.print(f"ingesting {len(raw)} input(s) into {shown(case_dir)} ...")
    summary = run_ingest(case_dir, raw, ctx, indicators=indicators)  # prints each problem as it happens
    problems_tail(summary)
    err.print(
        f"ingested: {summary.files_parsed} file(s) parsed, {summary.files_skipped} already in the case, "
        f"{summary.rows} rows, {summary.rejects} rejects"
    )
    for line in not_log_lines(summary):
        err.print(line, highlight=False)
    return len(summary.problems)


def hunt(
    targets: Annotated[
        list[Path], typer.Argument(help="A case directory, or files/folders/archives to ingest first.")
    ],
    case: Annotated[
        Path | None, typer.Option("--case", "-c", help="Case directory to ingest into and hunt.")
    ] = None,
    sigma: Annotated[
        list[Path] | None, typer.Option("--sigma", help="Sigma rule folder or file (repeatable).")
    ] = None,
    queries: Annotated[
        list[Path] | None, typer.Option("--queries", help="More SQL hunt folders (repeatable).")
    ] = None,
    iocs: Annotated[
        list[Path] | None,
        typer.Option("--iocs", help="IOC document or folder: text, CSV, STIX 2.1, MISP (repeatable)."),
    ] = None,
    yara_dirs: Annotated[
        list[Path] | None, typer.Option("--yara", help="YARA rule folder or file (repeatable).")
    ] = None,
    no_default_iocs: Annotated[
        bool,
        typer.Option(
            "--no-default-iocs", help="Do not use the IOC lists and YARA rules shipped in forensics/iocs."
        ),
    ] = False,
    no_default_queries: Annotated[
        bool,
        typer.Option("--no-default-queries", help="Do not run the SQL hunts shipped in forensics/queries."),
    ] = False,
    no_default_sigma: Annotated[
        bool,
        typer.Option(
            "--no-default-sigma",
            help="Without --sigma, do not use the installed rule set (forensics rules list) either.",
        ),
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per finding on stdout.")] = False,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 4 when a finding is at or above LEVEL.")
    ] = None,
    yara_max_mb: Annotated[int, typer.Option(help="YARA: skip files larger than this (MiB).")] = 64,
    yara_timeout: Annotated[int, typer.Option(help="YARA: seconds per scanned file or value.")] = 30,
    top: Annotated[
        int, typer.Option(help="Findings shown in the terminal table, most severe first (0: all).")
    ] = 30,
    tz: Annotated[
        str | None, typer.Option(help="Ingest: zone to assume for logs that state none (IANA name).")
    ] = None,
    year: Annotated[
        int | None, typer.Option(help="Ingest: collection year, for logs without a year.")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Ingest: host name for records that name none.")] = None,
    min_level: Annotated[
        str | None,
        typer.Option(
            "--min-level",
            help="Findings below LEVEL are kept in the case but not shown here. Default: low when "
            "Hayabusa's rule set is used (its informational rules fire on normal logons), else informational.",
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Sigma rule statuses to run (repeatable or comma-separated: stable, test, experimental, "
            "deprecated, unsupported, all). Default: stable,test,experimental.",
        ),
    ] = None,
    exclude_rules: Annotated[
        list[Path] | None,
        typer.Option(
            "--exclude-rules",
            help="File of Sigma rule ids not to run, one per line, # comments (repeatable).",
        ),
    ] = None,
    tuning: Annotated[
        list[Path] | None,
        typer.Option(
            "--tuning",
            help="Tuning file (YAML): per rule id disable, level, or exclude conditions (a known admin host, "
            "a scanner's account); a noisy list demoted to informational. See docs/hayabusa.md (repeatable).",
        ),
    ] = None,
    enable_noisy: Annotated[
        bool,
        typer.Option(
            "--enable-noisy-rules", help="Run the rules a Hayabusa set lists as noisy (as informational)."
        ),
    ] = False,
    no_default_tuning: Annotated[
        bool,
        typer.Option(
            "--no-default-tuning", help="Do not apply forensics' own tuning of known false positives."
        ),
    ] = False,
    ruleset_lists: Annotated[
        bool,
        typer.Option(
            "--ruleset-lists/--no-ruleset-lists",
            help="Apply a Hayabusa rule set's own exclude, noisy and level-tuning lists (its config/).",
        ),
    ] = True,
    placeholder: Annotated[
        list[str] | None,
        typer.Option("--placeholder", help="NAME=VALUE for Sigma |expand placeholders (repeatable)."),
    ] = None,
    outputs: Annotated[
        bool,
        typer.Option(
            "--outputs/--no-outputs",
            help="Also write the timeline (CSV, Timesketch JSONL), the csv-timeline of detections and the HTML report into the case and print the story.",
        ),
    ] = True,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder to write those outputs into (default: CASE/outputs)."),
    ] = None,
    engine: EngineOpt = "duckdb",
    spark_master: MasterOpt = None,
    spark_remote: RemoteOpt = None,
    spark_conf: ConfOpt = None,
    spark_driver_memory: DriverMemOpt = None,
    spark_sigma: SigmaOpt = "sql",
) -> None:
    """Hunt a case (or inputs ingested first) and keep the findings as a new run of it."""
    if out_dir is not None and (out_dir.is_file() or any(p.is_file() for p in out_dir.parents)):
        say(f"--out {out_dir}: not a folder (a file is in the way)")
        raise typer.Exit(2)
    try:
        sigma_tuning = build_tuning(status, min_level, exclude_rules or [], tuning or [], enable_noisy,
                                    ruleset_lists, not no_default_tuning)  # fmt: skip
        values = parse_placeholders(placeholder or [])
    except ForensicsError as exc:
        say(str(exc))
        raise typer.Exit(2) from exc
    options = HuntOptions(
        sigma=list(sigma or []),
        queries=list(queries or []),
        iocs=list(iocs or []),
        yara=list(yara_dirs or []),
        default_queries=not no_default_queries,
        default_iocs=not no_default_iocs,
        yara_max_size=yara_max_mb * 1024 * 1024,
        yara_timeout=yara_timeout,
        fail_on=fail_on.lower() if fail_on is not None else None,
        sigma_tuning=sigma_tuning,
        placeholders=values,
        spark=spark_options(engine, spark_master, spark_remote, spark_conf, spark_driver_memory, spark_sigma),
    )
    case_dir, raw = _resolve_case(targets, case)
    try:
        options.evidence = evidence_iocs(case_dir, raw)
    except ForensicsError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    for folder in options.evidence:
        err.print(f"using IOC lists and YARA rules that came with the evidence: {shown(folder)}")
    try:  # every path given checked and loaded before anything is ingested or written
        prepared = prepare_hunt(options, progress=lambda msg: err.print(f"[dim]{shown(msg)}[/dim]"))
    except HuntUsageError as exc:
        for problem in str(exc).split("; "):
            say(problem)
        raise typer.Exit(2) from exc
    options.rule_set = None if sigma or no_default_sigma else installed_rule_set()
    from forensics.case_outputs import write_case_outputs  # report, story, timeline: only here

    ingest_problems = 0
    if raw:
        if tz is not None:
            check_zone(tz)
        indicators = [*options.iocs, *options.yara, *options.evidence]
        ingest_problems = _ingest(
            case_dir, raw, ParseContext(tz=tz, host=host, reference_year=year), indicators
        )
    try:
        with Case.open(case_dir) as c:
            remember_evidence_iocs(c, options.evidence)
            with bars() as steps:
                summary = run_hunt(
                    c,
                    options,
                    progress=lambda msg: err.print(f"[dim]{shown(msg)}[/dim]"),
                    argv=sys.argv,
                    prepared=prepared,
                    steps=steps,
                )
            _report(summary, json, top)
            if outputs:
                written = write_case_outputs(c, summary.run_id, out_dir)
    except HuntUsageError as exc:  # every Sigma rule given failed: nothing of the hunt was kept
        say(str(exc))
        raise typer.Exit(2) from exc
    except ForensicsError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    if outputs:
        if not json:
            out.print(shown(written.analysis.story.render_text(), newlines=True), highlight=False)
        err.print(f"outputs (hunt run {shown(summary.run_id)}):")
        for path in written.files:
            err.print(f"  {shown(path)}")
    if summary.exit_code == EXIT_FAIL_ON:
        err.print(f"findings at or above {fail_on}: exit {EXIT_FAIL_ON}")
        raise typer.Exit(EXIT_FAIL_ON)
    if ingest_problems:  # as ingest: the hunt ran, over inputs that need the analyst's eye
        alerts.print(f"{ingest_problems} input problem(s) in the ingest step (above): exit {EXIT_PROBLEMS}")
        raise typer.Exit(EXIT_PROBLEMS)


def installed_rule_set() -> RuleSet | None:
    """The installed Sigma rule set a hunt without ``--sigma`` uses; says which, or how to get one."""
    try:
        chosen = rulesets.current()
    except rulesets.RuleSupplyError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    if chosen is None:
        err.print(
            "sigma: no rule set installed: `forensics rules update` installs SigmaHQ's release rules "
            "(`--from DIR|ZIP` a local copy); --sigma DIR hunts with a folder of rules",
            highlight=False,
        )
        return None
    err.print(
        f"sigma: installed set {chosen.label()}: {chosen.rules} rules, {chosen.converted} converted "
        f"when installed ({chosen.rules_dir})",
        highlight=False,
    )
    return chosen


def finding_json(f: Finding) -> dict[str, object]:
    """The ``--json`` shape of a finding."""
    return {
        "finding_id": f.finding_id,
        "kind": f.kind,
        "rule_id": f.rule_id,
        "title": f.title,
        "level": f.level,
        "attack": sorted(set(f.attack)),
        "host": f.host,
        "first_ts": iso_utc(f.first_ts) if f.first_ts else None,
        "last_ts": iso_utc(f.last_ts) if f.last_ts else None,
        "tlp": f.tlp,
        "summary": f.summary,
        "records": [
            {"input_sha256": r.input_sha256, "rec_index": r.rec_index} for r in sorted(set(f.records))
        ],
    }


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(
        findings,
        key=lambda f: (
            -f.rank,
            f.first_ts.isoformat() if f.first_ts else "~",
            f.kind,
            f.rule_id,
            f.finding_id,
        ),
    )


def parse_placeholders(items: list[str]) -> dict[str, list[str]]:
    """``NAME=VALUE`` items -> {name: [values]} (a name given twice has two values)."""
    out: dict[str, list[str]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ForensicsError(f"--placeholder wants NAME=VALUE, got {item!r}")
        out.setdefault(name.strip().strip("%"), []).append(value)
    return out


def _shown(summary: HuntSummary) -> list[Finding]:
    """Findings at or above the hunt's minimum level (the rest stay in the case)."""
    floor = level_rank(summary.min_level)  # type: ignore[arg-type]
    return [f for f in summary.findings if f.rank >= floor]


def _report(summary: HuntSummary, as_json: bool, top: int = 0) -> None:
    if as_json:
        for f in _sorted(_shown(summary)):
            print_json_line(finding_json(f))
    else:
        ranked = _sorted(_shown(summary))
        listed = ranked[:top] if top > 0 else ranked
        table = Table("level", "kind", "rule", "host", "first (UTC)", "first (IST)", "rows", title="findings")
        for f in listed:
            table.add_row(
                shown(f.level), shown(f.kind), shown(f.title[:70]), shown(f.host), iso_utc(f.first_ts)[:19] if f.first_ts else "",
                iso_ist(f.first_ts)[:19] if f.first_ts else "", str(len(set(f.records))),
            )  # fmt: skip
        out.print(table)
        if len(listed) < len(ranked):
            out.print(
                f"… and {len(ranked) - len(listed)} more findings (--top 0 shows all; --json, or "
                f'forensics sql {shown(summary.case)} "SELECT * FROM findings", lists every one)'
            )
    _stderr_summary(summary)


def _stderr_summary(summary: HuntSummary) -> None:
    err.print(f"case: {shown(summary.case)}")
    err.print(f"sigma: {shown(summary.sigma_note or 'no rules')}")
    sql = [o for o in summary.outcomes if o.kind == "sql"]
    err.print(
        f"sql hunts: {sum(o.status == 'ran' for o in sql)} ran, {sum(o.status != 'ran' for o in sql)} skipped/failed"
    )
    err.print(f"iocs: {summary.ioc_count} indicators; yara: {summary.yara_files} rule file(s) compiled")
    kinds = ", ".join(f"{n} {shown(k)}" for k, n in summary.by_kind().items()) or "none"
    levels = ", ".join(f"{n} {shown(lvl)}" for lvl, n in summary.by_level().items())
    err.print(f"findings: {len(summary.findings)} ({kinds}){'; ' + levels if levels else ''}")
    hidden = len(summary.findings) - len(_shown(summary))
    if hidden:
        err.print(
            f"{hidden} finding(s) below --min-level {summary.min_level} kept in the case, not shown "
            f'(--min-level informational shows them; forensics sql {summary.case} "SELECT * FROM findings")'
        )
    problems = summary.problems()
    if problems:
        err.print(f"[yellow]{len(problems)} rule/IOC/YARA file(s) or hunts not used:[/yellow]")
        for o in problems[:15]:
            err.print(
                f"  {shown(o.kind)} {shown(o.status)}: {shown(o.path)}{' ' + shown('[' + o.rule_id + ']') if o.rule_id else ''}: {shown(o.reason[:160])}"
            )
        if len(problems) > 15:
            err.print(f'  ... {len(problems) - 15} more (forensics sql CASE "SELECT * FROM hunt_report")')
    seq = summary.custody_entry.get("seq") if summary.custody_entry else None
    err.print(f"hunt run {shown(summary.run_id)}: {shown(summary.run_file)}; custody entry {seq} (analysed)")
    timing = ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items())
    err.print(f"[dim]time: {timing}[/dim]")

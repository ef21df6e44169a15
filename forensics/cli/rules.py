"""``forensics rules check``: which Sigma rules convert, which are skipped or failed, and why."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from forensics.cli import rulesets
from forensics.cli.common import out, print_json_line, shown
from forensics.cli.guard import say
from forensics.cli.hunt import parse_placeholders
from forensics.cli.progress import bars
from forensics.errors import ForensicsError
from forensics.store import Case

if TYPE_CHECKING:
    from forensics.hunt.sigma import RuleStatus


def register(app: typer.Typer) -> None:
    """Add the ``rules`` command group: ``check``, and the rule supply's ``update``, ``list``, ``use``."""
    rules = typer.Typer(
        help="Inspect detection rules; install, list and choose Sigma rule sets.", no_args_is_help=True
    )
    rules.command(
        "check",
        help=(
            "Convert Sigma rules to SQL over our schema without running them, and report per rule: "
            "converted, skipped or failed, with the reason and file:line. With --case, also whether "
            "the case holds rows of the log source each rule needs. A bad rule never stops the check.\n\n"
            "Exit codes: 0 done (whatever the rules' statuses); 1 error (no such case); 2 usage.\n\n"
            "Example: forensics rules check sigma/rules/windows sigma/rules/linux --case cases/dims --json"
        ),
    )(check)
    rulesets.add_commands(rules)  # update, list, use: the rule supply (forensics/cli/rulesets.py)
    app.add_typer(rules, name="rules")


def check(
    paths: Annotated[list[Path], typer.Argument(help="Rule files or folders (searched for *.yml / *.yaml).")],
    case: Annotated[
        Path | None, typer.Option("--case", "-c", help="Case to check log-source coverage against.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per rule on stdout.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List converted rules too, not only problems.")
    ] = False,
    placeholder: Annotated[
        list[str] | None,
        typer.Option("--placeholder", help="NAME=VALUE for Sigma |expand placeholders (repeatable)."),
    ] = None,
) -> None:
    """Convert rules and report converted / skipped / failed per rule."""
    for p in paths:
        if not p.exists():
            say(f"no such rule file or folder: {p}")
            raise typer.Exit(2)
    try:
        values = parse_placeholders(placeholder or [])
    except ForensicsError as exc:
        say(str(exc))
        raise typer.Exit(2) from exc
    opened: Case | None = None
    if case is not None:
        opened = Case.open(case, read_only=True)  # not a case: the guard's one error line, exit 1
    try:
        with bars() as steps:
            from forensics.hunt.sigma import check_rules  # pySigma: only for this command

            report = check_rules(paths, opened, values or None, progress=steps)
    finally:
        if opened is not None:
            opened.close()
    if json:
        for r in report:
            print_json_line(_as_dict(r))
        return
    _render(report, show_all, with_case=case is not None)


def _as_dict(r: RuleStatus) -> dict[str, object]:
    return {
        "path": r.path,
        "line": r.line,
        "rule_id": r.rule_id,
        "title": r.title,
        "status": r.status,
        "reason": r.reason,
        "logsource": r.logsource,
        "level": r.level,
        "source_in_case": r.source_in_case,
        "warnings": list(r.warnings),
    }


def _render(report: list[RuleStatus], show_all: bool, with_case: bool) -> None:
    listed = [r for r in report if show_all or r.status != "converted"]
    if listed:
        t = Table(show_header=True)
        t.add_column("status")
        t.add_column("file:line")
        t.add_column("title")
        t.add_column("reason")
        if show_all:
            t.add_column("warnings")
        for r in listed:
            where = f"{r.path}:{r.line}" if r.line else r.path
            row = [shown(r.status), shown(where), shown(r.title), shown(r.reason)]
            t.add_row(*row, *([shown("; ".join(r.warnings))] if show_all else []))
        out.print(t)
    counts = Counter(r.status for r in report)
    total = len(report)
    pct = 100.0 * counts["converted"] / total if total else 0.0
    line = (
        f"{total} rules: {counts['converted']} converted ({pct:.1f}%), "
        f"{counts['skipped']} skipped, {counts['failed']} failed"
    )
    if with_case:
        have = sum(1 for r in report if r.source_in_case)
        line += f"; {have} have their log source in the case"
    out.print(line, highlight=False)
    kinds = Counter(w.split(":", 1)[0] for r in report for w in r.warnings)
    if kinds:
        warned = sum(1 for r in report if r.warnings)
        what = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
        out.print(
            f"{warned} rules deviate from strict Sigma in ways Hayabusa tolerates, tolerated here too "
            f"({what}); --all or --json shows each rule's warnings",
            highlight=False,
        )

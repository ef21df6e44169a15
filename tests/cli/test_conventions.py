"""The command-line conventions, the same on every command (issue 14 item 6). The app's commands are
found by walking it, so a new command is held to them without touching this file; when one fails
here, the message says what the command lacks.

Cost: help of ~20 commands rendered in-process, a few runs on a small case: ~10 s.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from forensics import __version__
from forensics.cli import app
from forensics.cli.conventions import walk
from forensics.cli.exits import EXIT_CODES, help_table, markdown_table

ROOT = typer.main.get_command(app)
ALL = list(walk(ROOT))  # (words, command), the root first
LEAVES = [(w, c) for w, c in ALL if not getattr(c, "commands", None)]
README = Path(__file__).resolve().parents[2] / "README.md"


def _ids(item: tuple[tuple[str, ...], Any]) -> str:
    return " ".join(item[0]) or "forensics"


def _opts(command: Any) -> set[str]:
    return {o for p in command.params for o in (*getattr(p, "opts", []), *getattr(p, "secondary_opts", []))}


def _help(words: tuple[str, ...]) -> str:
    res = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert res.exit_code == 0, res.output
    return res.stdout


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(w) for w, _ in LEAVES}
    assert {"ingest", "hunt", "sql", "export", "verify", "report", "timeline", "custody add", "custody show",
            "rules check"} <= names  # fmt: skip


@pytest.mark.parametrize("item", ALL, ids=_ids)
def test_quiet_and_no_color_everywhere(item: tuple[tuple[str, ...], Any]) -> None:
    words, command = item
    assert {"-q", "--quiet", "--no-color"} <= _opts(command), f"{words}: lacks -q/--quiet or --no-color"


@pytest.mark.parametrize("item", LEAVES, ids=_ids)
def test_json_on_every_command(item: tuple[tuple[str, ...], Any]) -> None:
    words, command = item
    assert "--json" in _opts(command), f"`forensics {' '.join(words)}` prints results: give it --json"


@pytest.mark.parametrize("item", LEAVES, ids=_ids)
def test_case_is_c_or_case(item: tuple[tuple[str, ...], Any]) -> None:
    words, command = item
    if any(p.name == "case" for p in command.params):
        assert {"-c", "--case"} <= _opts(command), f"`forensics {' '.join(words)}` takes a case: -c/--case"
    for p in command.params:  # a case taken under another name would drift
        assert not (p.param_type_name == "option" and "case" in p.name and p.name != "case"
                    and "--case" in getattr(p, "opts", []))  # fmt: skip


@pytest.mark.parametrize("item", LEAVES, ids=_ids)
def test_out_is_o_or_out(item: tuple[tuple[str, ...], Any]) -> None:
    """An output file is ``-o/--out``; a command whose help starts "Write" writes one and takes it."""
    words, command = item
    for p in command.params:
        opts = getattr(p, "opts", [])
        if "--out" in opts or p.name in ("out", "out_path", "output"):
            assert {"-o", "--out"} <= set(opts), f"`forensics {' '.join(words)}`: the output file is -o/--out"
    if (command.help or "").startswith("Write"):
        assert {"-o", "--out"} <= _opts(command), f"`forensics {' '.join(words)}` writes a file: -o/--out"


PY_TYPES = re.compile(r"<(?:path|str|int|float|bool|list\[[^\]]*\])>|\{[a-z_]+(?:\.\.\.)?\}")


@pytest.mark.parametrize("item", ALL, ids=_ids)
def test_help_names_values_plainly(item: tuple[tuple[str, ...], Any]) -> None:
    words, _ = item
    text = _help(words)
    assert not PY_TYPES.findall(text), (words, PY_TYPES.findall(text))
    usage = next(ln for ln in text.splitlines() if "Usage:" in ln)
    assert usage == usage.replace("{", "").replace("}", ""), usage


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout == f"forensics {__version__}\n"


def test_one_table_of_exit_codes_in_help_and_readme() -> None:
    text = _help(())
    for e in EXIT_CODES:
        assert re.search(rf"^\s*{e.code}\s+{re.escape(e.name)}\s+{re.escape(e.meaning)}\s*$", text, re.M), e
    assert help_table().count("\n") == len(EXIT_CODES) + 1
    assert markdown_table() in README.read_text(encoding="utf-8"), (
        "README: paste forensics.cli.exits.markdown_table()"
    )


def test_documented_exits_are_the_table() -> None:
    """Every exit a command module names is in the table (a new one must be added there)."""
    cli = Path(__file__).resolve().parents[2] / "forensics" / "cli"
    codes = {e.code for e in EXIT_CODES}
    for path in cli.glob("*.py"):
        for m in re.finditer(r"^[A-Z_]*EXIT[A-Z_]* = (\d+)", path.read_text(encoding="utf-8"), re.M):
            assert int(m.group(1)) in codes, (path.name, m.group(0))
        for m in re.finditer(r"typer\.Exit\((\d+)\)", path.read_text(encoding="utf-8")):
            assert int(m.group(1)) in codes, (path.name, m.group(0))


def test_errors_and_warnings_go_through_say_and_warn() -> None:
    """An ``error:``/``warning:`` line printed on the notes console would vanish under -q."""
    cli = Path(__file__).resolve().parents[2] / "forensics" / "cli"
    for path in cli.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        bad = re.findall(r"err\.print\(\s*f?[\"'](?:\[[a-z ]+\])?(?:error|warning):", text)
        assert not bad, f"{path.name}: print errors with guard.say and warnings with guard.warn ({bad})"


# ---- behaviour -----------------------------------------------------------------------------------
@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
    from casekit import attack_case

    case, _ = attack_case(tmp_path / "case")
    case.close()
    return tmp_path / "case"


def test_quiet_keeps_results_and_errors(case_dir: Path, tmp_path: Path) -> None:
    loud = CliRunner().invoke(app, ["custody", "show", str(case_dir)])
    quiet = CliRunner().invoke(app, ["custody", "show", str(case_dir), "-q"])
    also = CliRunner().invoke(app, ["-q", "custody", "show", str(case_dir)])
    assert loud.exit_code == quiet.exit_code == also.exit_code == 0
    assert "chain intact" in loud.stderr and quiet.stderr == also.stderr == ""
    assert quiet.stdout == loud.stdout != ""
    res = CliRunner().invoke(app, ["-q", "sql", str(tmp_path / "nope"), "SELECT 1"])
    assert res.exit_code == 1 and res.stderr.startswith("error: ")
    res = CliRunner().invoke(app, ["export", str(case_dir), "-o", str(tmp_path / "b.zip"), "-q"])
    assert res.exit_code == 0 and res.stderr.startswith("warning: no --key"), res.stderr  # warnings stay
    again = CliRunner().invoke(app, ["custody", "show", str(case_dir)])
    assert "chain intact" in again.stderr  # -q held for one command line only


def test_no_color_and_NO_COLOR(tmp_path: Path) -> None:
    junk = tmp_path / "b.zip"
    junk.write_bytes(b"PK\x03\x04 not a zip")
    run = [sys.executable, "-m", "forensics", "verify", str(junk)]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"FORCE_COLOR": "1", "COLUMNS": "120"}
    coloured = subprocess.run(run, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert coloured.returncode == 5 and "\x1b[31m" in coloured.stdout  # FAILED in red
    for argv, extra in ((["--no-color"], {}), ([], {"NO_COLOR": "1"}), ([], {})):
        if not argv and not extra:
            continue
        plain = subprocess.run([*run[:3], *argv, *run[3:]], capture_output=True, text=True,
                               env=env | extra, timeout=120, check=False)  # fmt: skip
        assert plain.returncode == 5 and "FAILED" in plain.stdout
        assert not re.search(r"\x1b\[(?:3|9)\d", plain.stdout + plain.stderr), (argv, extra, plain.stdout)


def test_case_option_and_argument_are_the_same(case_dir: Path) -> None:
    query = "SELECT count(*) AS n FROM events"
    by_arg = CliRunner().invoke(app, ["sql", str(case_dir), query, "--json"])
    for argv in (["sql", "-c", str(case_dir), query, "--json"], ["sql", query, "--case", str(case_dir), "--json"],
                 ["sql", f"--case={case_dir}", query, "--json"]):  # fmt: skip
        res = CliRunner().invoke(app, argv)
        assert res.exit_code == 0 and res.stdout == by_arg.stdout, (argv, res.output)
    res = CliRunner().invoke(app, ["sql", str(case_dir), query, "-c", str(case_dir)])
    assert res.exit_code == 2 and "given twice" in res.stderr
    res = CliRunner().invoke(app, ["runs", "-c", str(case_dir), "--json"])
    assert res.exit_code == 0


def test_custody_add_case_in_natural_order_and_the_old_order(case_dir: Path) -> None:
    add = ["--action", "received", "--person", "SI Rao", "--place", "Cyber PS", "--purpose", "analysis"]
    natural = CliRunner().invoke(app, ["custody", "add", str(case_dir), *add, "--json"])
    old = CliRunner().invoke(app, ["custody", str(case_dir), "add", *add, "--json"])
    assert natural.exit_code == old.exit_code == 0, (natural.output, old.output)
    shown = CliRunner().invoke(app, ["custody", "show", "-c", str(case_dir), "--json"])
    assert [ln for ln in shown.stdout.splitlines()][-2:] == [natural.stdout.strip(), old.stdout.strip()]


def test_outputs_of_a_case_go_under_outputs(case_dir: Path) -> None:
    before = {p for p in case_dir.rglob("*") if p.is_file()}
    for argv in (["report", str(case_dir)], ["timeline", str(case_dir)], ["timeline", str(case_dir), "--format", "jsonl"]):  # fmt: skip
        res = CliRunner().invoke(app, [*argv, "--json"])
        assert res.exit_code == 0, res.output
    new = {p.relative_to(case_dir) for p in case_dir.rglob("*") if p.is_file()} - {
        p.relative_to(case_dir) for p in before
    }
    assert new == {Path("outputs/report.html"), Path("outputs/timeline-context.csv"),
                   Path("outputs/timeline-context.jsonl")}  # fmt: skip


def test_hunt_writes_its_outputs_under_outputs_or_where_o_says(case_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["hunt", str(case_dir), "-q", "--json"])
    assert res.exit_code == 0, res.output
    kept = sorted(p.name for p in (case_dir / "outputs").iterdir())
    assert "report.html" in kept and "timeline.csv" in kept
    res = CliRunner().invoke(
        app, ["hunt", "-c", str(case_dir), str(case_dir), "-o", str(tmp_path / "res"), "-q"]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == kept


def test_no_color_holds_for_help_too() -> None:
    """`--no-color` anywhere on the line (before or after --help, on the group or a command) and
    NO_COLOR=1 give help without ANSI codes; without them a forced-colour terminal gets colours."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"FORCE_COLOR": "1", "COLUMNS": "100"}
    base = [sys.executable, "-m", "forensics"]

    def ansi(argv: list[str], extra: dict[str, str] | None = None) -> bool:
        res = subprocess.run(
            [*base, *argv], capture_output=True, text=True, env=env | (extra or {}), timeout=120
        )
        assert res.returncode == 0 and "Usage" in res.stdout, res.stderr
        return "\x1b[" in res.stdout

    assert ansi(["--help"]) and ansi(["ingest", "--help"])
    for argv in (["--no-color", "--help"], ["--help", "--no-color"], ["ingest", "--help", "--no-color"],
                 ["--no-color", "hunt", "--help"]):  # fmt: skip
        assert not ansi(argv), argv
    assert not ansi(["ingest", "--help"], {"NO_COLOR": "1"})


def test_quiet_hides_progress_not_input_problems(tmp_path: Path) -> None:
    """-q: the ingest's problem lines (and the hunt's exit-3 line) still print; notes do not."""
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "auth.log").write_text(
        "Mar  5 09:00:00 web01 sshd[1]: Accepted password for bob from 10.0.0.5 port 2 ssh2\n"
    )
    (ev / "Security.evtx").write_bytes(b"not an event log at all" * 40)
    res = CliRunner().invoke(app, ["-q", "ingest", str(ev), "--case", str(tmp_path / "c1")])
    assert res.exit_code == 3 and "unknown: " in res.stderr and "Security.evtx" in res.stderr, res.stderr
    quiet = ("--no-default-sigma", "--no-default-queries", "--no-default-iocs", "--no-outputs")
    res = CliRunner().invoke(app, ["hunt", str(ev), "--case", str(tmp_path / "c2"), "-q", *quiet])
    assert res.exit_code == 3 and "Security.evtx" in res.stderr
    assert "input problem(s) in the ingest step" in res.stderr and "ingesting" not in res.stderr

"""No tracebacks, documented exits: every command of the app (found by walking the Typer app, so a
new command is covered without touching this file) is run with bad inputs; each answers with one
``error:`` line naming what is wrong, or does its job, with an exit code the CLI documents.

Cost: ~15 commands x 8 kinds of bad input, in-process (CliRunner); ~20-40 s, most of it the few
commands that ingest a junk file before failing or finishing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from forensics.cli import app
from forensics.cli.exits import EXIT_CODES

DOCUMENTED = {e.code for e in EXIT_CODES if e.name != "bug"}  # forensics/cli/exits.py; 70 is a bug


@dataclass(frozen=True)
class Cmd:
    """A leaf command: the words that reach it and the parameters of it and of the groups above it."""

    words: tuple[str, ...]
    group_params: tuple[Any, ...]  # (group word index, params) of groups whose callback takes arguments
    params: tuple[Any, ...]


def _walk(command: Any, words: tuple[str, ...], group_params: tuple[Any, ...]) -> Iterator[Cmd]:
    subs = getattr(command, "commands", None)
    if subs:
        here = (*group_params, (len(words), tuple(p for p in command.params if p.name != "help")))
        for name, sub in sorted(subs.items()):
            yield from _walk(sub, (*words, name), here if words else group_params)
    else:
        yield Cmd(words, group_params, tuple(command.params))


COMMANDS = list(_walk(typer.main.get_command(app), (), ()))


def test_the_walk_finds_the_commands() -> None:
    names = {" ".join(c.words) for c in COMMANDS}
    assert {"ingest", "sql", "hunt", "export", "verify", "keygen", "custody add", "custody show"} <= names


def _annotation(p: Any) -> str:
    return str(getattr(getattr(p, "type_descriptor", None), "annotation", ""))


def _is_path(p: Any) -> bool:
    return "Path" in _annotation(p)


def _is_number(p: Any) -> bool:
    return _annotation(p) in (str(int), str(float))


class Bad:
    """The bad values, made in a temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.missing = root / "missing" / "nothing-here"
        self.file = root / "junk.txt"
        self.file.write_bytes(b"not a case, not a bundle, not evidence\n\x00\xff")
        self.under_file = self.file / "sub" / "out.zip"
        self.empty = root / "empty-folder"
        self.empty.mkdir()
        self.bracket = root / "odd [name]"
        self.bracket.mkdir()


def _value(p: Any, kind: str, bad: Bad, rng: random.Random) -> list[str]:
    """Values for one parameter in one scenario (a list: multiple-valued arguments take one)."""
    if _is_path(p):
        return [str({"missing": bad.missing, "file": bad.file, "under-file": bad.under_file,
                     "empty": bad.empty, "bracket": bad.bracket}.get(kind, bad.missing))]  # fmt: skip
    if _is_number(p):
        return [rng.choice(["-1", "0", "-99999999999"])] if kind == "values" else ["1"]
    if kind == "values":
        return [rng.choice(["", " ", "\x01", "-", "9" * 30, "[red]x[/red]", "'; DROP TABLE inputs; --"])]
    return [str(bad.missing)] if kind in ("missing", "under-file") else ["x"]


def _argv(cmd: Cmd, kind: str, bad: Bad, rng: random.Random) -> list[str]:
    argv = list(cmd.words)
    for index, params in reversed(cmd.group_params):  # a group's own arguments follow its word
        values = [v for p in params if p.param_type_name == "argument" for v in _value(p, kind, bad, rng)]
        argv[index + 1 : index + 1] = values
    options, arguments = [], []
    for p in cmd.params:
        if p.name == "help" or getattr(p, "is_flag", False):
            continue
        if p.param_type_name == "argument":
            arguments += _value(p, kind, bad, rng)
        elif p.required or kind in ("values", "under-file"):
            options += [p.opts[0], *_value(p, kind, bad, rng)]
    if kind == "unknown-option":
        options.append("--no-such-option")
    return [*argv, *options, "--", *arguments] if arguments else [*argv, *options]


KINDS = ["nothing", "missing", "file", "under-file", "empty", "bracket", "values", "unknown-option"]
QUIET = {"missing", "under-file", "values"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: "-".join(c.words))
def test_bad_input_is_one_line_with_a_documented_exit(
    cmd: Cmd, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a command that makes a case from its input makes it here
    bad = Bad(tmp_path)
    rng = random.Random(f"{cmd.words}{kind}")  # seeded: the same values every run
    argv = list(cmd.words) if kind == "nothing" else _argv(cmd, kind, bad, rng)
    if kind in QUIET:
        argv.insert(0, "-q")  # errors are shown under --quiet too
    res = CliRunner().invoke(app, argv)
    text = res.stdout + res.stderr
    assert res.exception is None or isinstance(res.exception, SystemExit), (argv, repr(res.exception))
    assert "Traceback" not in text, (argv, text)
    assert res.exit_code in DOCUMENTED, (argv, res.exit_code, text[-2000:])
    if (
        res.exit_code in (1, 2) and "Usage:" not in res.stdout
    ):  # --help shown for a bare group is not an error
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert errors, (argv, res.stderr)  # one line per problem (hunt names every bad option at once)
        assert "╭" not in res.stderr, (argv, res.stderr)  # not a boxed multi-line usage panel
        names = [str(v) for v in (bad.missing, bad.file, bad.under_file, bad.empty, bad.bracket)]
        names += [o for p in cmd.params for o in getattr(p, "opts", [])] + ["argument", "option", "forensics"]
        for line in errors:
            assert any(n in line for n in names), (argv, line)  # it names the file or the option


# ---- the cases issue 12 names -----------------------------------------------------------------------
def _errors(res: Any) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
    from casekit import attack_case

    case, _ = attack_case(tmp_path / "case")
    case.close()
    return tmp_path / "case"


def test_export_into_a_path_under_a_regular_file(case_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    custody_before = (case_dir / "custody.jsonl").read_bytes()
    res = CliRunner().invoke(app, ["export", str(case_dir), "--out", str(blocker / "bundles" / "b.zip")])
    assert res.exit_code == 2, res.output
    assert _errors(res) == [
        f"error: --out {blocker / 'bundles' / 'b.zip'}: {blocker} is a file, not a folder"
    ]
    assert (
        case_dir / "custody.jsonl"
    ).read_bytes() == custody_before  # no export entry for a bundle not written
    res = CliRunner().invoke(app, ["export", str(case_dir), "--out", str(tmp_path)])
    assert res.exit_code == 2 and _errors(res) == [f"error: --out {tmp_path}: is a folder; give a file name"]


def test_custody_on_a_folder_that_is_not_a_case_writes_nothing(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "Security.evtx").write_bytes(b"ElfFile\x00")
    add = [
        "add",
        "--action",
        "received",
        "--person",
        "SI Rao",
        "--place",
        "Cyber PS",
        "--purpose",
        "analysis",
    ]
    res = CliRunner().invoke(app, ["custody", str(evidence), *add])
    assert res.exit_code == 1 and "is not a case" in _errors(res)[0] and str(evidence) in _errors(res)[0]
    assert sorted(p.name for p in evidence.iterdir()) == ["Security.evtx"]  # nothing written beside evidence
    res = CliRunner().invoke(app, ["custody", str(evidence), "show"])
    assert res.exit_code == 1 and "is not a case" in _errors(res)[0] and "chain intact" not in res.output
    typo = tmp_path / "cases" / "dimss"
    res = CliRunner().invoke(app, ["custody", str(typo), *add])
    assert res.exit_code == 1 and "--create" in _errors(res)[0] and not typo.exists()
    res = CliRunner().invoke(
        app, ["custody", str(typo), *add, "--create"]
    )  # custody before ingest, on purpose
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["custody", str(typo), "show", "--json"])
    assert res.exit_code == 0 and len(res.stdout.splitlines()) == 1
    res = CliRunner().invoke(app, ["custody", str(typo), *add, "--hash", "a.evtx=not-a-hash"])
    assert res.exit_code == 2 and "--hash" in _errors(res)[0]


def test_empty_sql_and_missing_arguments_are_one_line(case_dir: Path) -> None:
    res = CliRunner().invoke(app, ["sql", str(case_dir), ""])
    assert res.exit_code == 2 and _errors(res) == [
        "error: empty query: give one SELECT, FROM …, WITH …, VALUES, SHOW, DESCRIBE or SUMMARIZE statement"
    ]
    res = CliRunner().invoke(app, ["sql"])
    assert res.exit_code == 2
    assert _errors(res) == [
        "error: forensics sql: Missing argument 'CASE'. (usage: forensics sql [OPTIONS] CASE QUERY; --help for more)"
    ]
    res = CliRunner().invoke(app, ["no-such-command"])
    assert res.exit_code == 2 and len(_errors(res)) == 1 and "no-such-command" in _errors(res)[0]


def test_a_bug_is_one_line_exit_70_and_debug_shows_the_traceback(
    case_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import forensics.casequery

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(forensics.casequery.QuerySession, "run", broken)
    res = CliRunner().invoke(app, ["sql", str(case_dir), "SELECT 1"])
    assert res.exit_code == 70 and "Traceback" not in res.output
    assert _errors(res) == [
        "error: internal error (RuntimeError: simulated bug); this is a bug in forensics, please report it "
        "with the command line (FORENSICS_DEBUG=1 shows the traceback)"
    ]
    monkeypatch.setenv("FORENSICS_DEBUG", "1")
    res = CliRunner().invoke(app, ["sql", str(case_dir), "SELECT 1"])
    assert isinstance(res.exception, RuntimeError)


def test_the_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The same guard in a real process (Typer's own entry point, not the test runner)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "forensics", "verify", str(tmp_path / "nope.zip")],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode in DOCUMENTED and proc.returncode != 0
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith(("error:", "FAILED"))]) <= 1

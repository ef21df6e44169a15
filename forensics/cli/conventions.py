"""The conventions every command of ``forensics`` follows, applied where the app's command tree is
built (``GuardedGroup``), so a new command gets them without doing anything; tests/cli/
test_conventions.py walks the app and checks them.

- ``-q/--quiet`` and ``--no-color`` on ``forensics`` and on every command and group (``NO_COLOR``
  works too): quiet drops progress and notes on stderr; results on stdout, warnings, errors and
  input problems stay. ``--no-color`` holds for ``--help`` too, wherever it stands on the line
  (``GuardedGroup.make_context`` reads it before Click prints help).
- ``--version`` on ``forensics``.
- Help names values PATH, TEXT, INTEGER, NUMBER and arguments by their role (CASE, QUERY, ...),
  never by Python type (``<path>``, ``<str>``, ``{case}``).
- A command whose first argument is the case also takes it as ``-c/--case CASE``, as the commands
  that take the case as an option do (``ingest``, ``hunt``, ``batch``, ``rules check``).
- A group's argument given before its command (``custody CASE add``, the first order) is moved
  after it (``custody add CASE``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.main
from typer._click import Command, Parameter  # Typer ships its own copy of Click
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from forensics.cli import common

CASE_OPTS = ("-c", "--case")
_TYPE_LABELS = {"Path": "PATH", "str": "TEXT", "int": "INTEGER", "float": "NUMBER"}


# ---- the options every command takes ------------------------------------------------------------
def _set_quiet(value: bool) -> None:
    if value:
        common.set_quiet(True)


def _set_no_color(value: bool) -> None:
    if value:
        common.set_colour(False)


def _show_version(value: bool) -> None:
    if value:
        from forensics import __version__

        common.out.print(f"forensics {__version__}", markup=False, highlight=False)
        raise typer.Exit(0)


def _probe_params(fn: Callable[..., None]) -> list[Parameter]:
    """The Click parameters Typer makes for ``fn``'s signature (so help renders them as it does its own)."""
    probe = typer.Typer(add_completion=False)
    probe.command()(fn)
    return [p for p in typer.main.get_command(probe).params if p.name != "help"]


def _common() -> list[Parameter]:
    def common_options(
        quiet: Annotated[
            bool,
            typer.Option(
                "--quiet",
                "-q",
                help="No progress or notes on stderr; results, warnings and errors only.",
                callback=_set_quiet,
                expose_value=False,
            ),
        ] = False,
        no_color: Annotated[
            bool,
            typer.Option(
                "--no-color",
                help="No colours (as NO_COLOR=1 does).",
                callback=_set_no_color,
                expose_value=False,
            ),
        ] = False,
    ) -> None:
        """Probe."""

    return _probe_params(common_options)


def _version() -> list[Parameter]:
    def version_option(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                help="Print the version and exit.",
                callback=_show_version,
                is_eager=True,
                expose_value=False,
            ),
        ] = False,
    ) -> None:
        """Probe."""

    return _probe_params(version_option)


def _case_option() -> list[Parameter]:
    def case_option(
        case: Annotated[
            Path | None,
            typer.Option(
                *CASE_OPTS, help="The case directory (the same as the CASE argument).", expose_value=False
            ),
        ] = None,
    ) -> None:
        """Probe."""

    return _probe_params(case_option)


# ---- applying them ---------------------------------------------------------------------------------
def walk(command: Command, words: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    """Every command and group under ``command`` (itself first), with the words that reach it."""
    yield words, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*words, name))


def takes_case_argument(command: Command) -> bool:
    """Whether the command's first argument is the case."""
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    return bool(arguments) and arguments[0].name == "case"


def apply(root: TyperGroup) -> None:
    """Give every command of the tree under ``root`` the conventions above (idempotent)."""
    if getattr(root, "_conventions_applied", False):
        return
    root._conventions_applied = True  # type: ignore[attr-defined]
    # Each probe builds a Typer command (~1 ms): made once, a copy of each parameter per command
    # (the copies get their own help names below).
    common_params, case_params = _common(), _case_option()
    for words, command in walk(root):
        names = {o for p in command.params for o in getattr(p, "opts", [])}
        extra = [copy.copy(p) for p in common_params if not names & set(p.opts)]
        if not words:
            extra = _version() + extra
        if takes_case_argument(command) and not names & set(CASE_OPTS):
            extra = [copy.copy(p) for p in case_params] + extra
        command.params.extend(extra)
        for p in command.params:
            _plain_names(p)
        _plain_help_option(command)
        command.help = _paragraphs(command.help)


def _paragraphs(text: str | None) -> str | None:
    """Help written with line breaks inside a paragraph reads as one paragraph (Typer's rich help keeps
    single line breaks); a paragraph that starts with ``\\b`` keeps its lines."""
    if not text:
        return text
    return "\n\n".join(p if p.startswith("\b") else _reflow(p) for p in text.split("\n\n"))


_OWN_LINE = re.compile(r"(?:Example|Exit codes|forensics |- |\* )")  # examples and lists keep their lines


def _reflow(paragraph: str) -> str:
    lines = paragraph.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        if _OWN_LINE.match(line.lstrip()):
            out.append(line)
        else:
            out[-1] += " " + line.lstrip()
    return "\n".join(out)


def _type_label(p: Parameter) -> str | None:
    if getattr(p, "is_flag", False) or getattr(p, "count", False):
        return None
    text = str(getattr(getattr(p, "type_descriptor", None), "annotation", ""))
    if "Path" in text:
        return "PATH"
    for py, label in (("float", "NUMBER"), ("int", "INTEGER"), ("str", "TEXT")):
        if re.search(rf"\b{py}\b", text):
            return label
    return "VALUE"


def _plain_names(p: Parameter) -> None:
    """Help and usage say CASE / PATH / TEXT, not ``{case}`` / ``<path>`` / ``<str>``. Typer renders
    these from methods of the parameter; instance attributes replace them here."""
    label = _type_label(p)
    if p.param_type_name == "argument":
        name = p.metavar or (p.name or "value").upper()
        shown = name + ("..." if p.nargs != 1 and not name.endswith("...") else "")
        p.metavar = shown
        usage = shown if p.required or shown.startswith("[") else f"[{shown}]"
        _override(p, _rich_display_name=lambda: shown, _usage_display_name=lambda: usage)
    elif p.metavar is None and label is not None:
        p.metavar = label
    _override(p, display_type_rich=lambda ctx=None: label)


def _override(obj: Any, **methods: Any) -> None:
    """Replace methods of one object (Typer's help renderers of one parameter or command)."""
    for name, method in methods.items():
        setattr(obj, name, method)


def _plain_help_option(command: Command) -> None:
    """``--help`` is made per context by Click: name it plainly too."""
    make = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = make(ctx)
        if option is not None:
            _override(option, display_type_rich=lambda ctx=None: None)
        return option

    _override(command, get_help_option=get_help_option)


# ---- argument order --------------------------------------------------------------------------------
def _value_options(command: Command) -> set[str]:
    """The option names of ``command`` that take a value."""
    names: set[str] = set()
    for p in command.params:
        if p.param_type_name == "option" and not getattr(p, "is_flag", False):
            names.update(p.opts)
    return names


def _split(args: list[str], command: Command) -> tuple[list[int], int]:
    """(indices of positional words, index of ``--`` or len(args))."""
    takes_value = _value_options(command)
    positional: list[int] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            positional += list(range(i + 1, len(args)))
            return positional, i
        if a.startswith("-") and a != "-":
            if a in takes_value:
                i += 1
        else:
            positional.append(i)
        i += 1
    return positional, len(args)


def _case_from_option(command: Command, args: list[str]) -> list[str]:
    """``-c CASE`` / ``--case CASE`` / ``--case=CASE`` / ``-cCASE`` moved into the CASE argument."""
    positional, end = _split(args, command)
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    full = all(p.nargs == 1 for p in arguments) and len(positional) >= len(arguments)
    for i, a in enumerate(args[:end]):
        value: str | None = None
        if a in CASE_OPTS and i + 1 < len(args):
            value, drop = args[i + 1], 2
        elif a.startswith("--case="):
            value, drop = a.partition("=")[2], 1
        elif a.startswith("-c") and not a.startswith("--") and len(a) > 2:
            value, drop = a[2:], 1
        if value is not None:
            if full:
                given = "--case" if a.startswith("--") else "-c"
                raise UsageError(f"the case is given twice, as CASE and as {given}: give it once")
            return [value, *args[:i], *args[i + drop :]]
    return args


def normalise(command: Command, args: list[str]) -> list[str]:
    """``args`` for ``command`` with the case option moved into CASE and a group's argument given before
    its command moved after it, at every level below ``command``."""
    subs: dict[str, Command] = getattr(command, "commands", {}) or {}
    if not subs:
        return _case_from_option(command, args) if takes_case_argument(command) else args
    positional, _ = _split(args, command)
    if not positional:
        return args
    first = positional[0]
    if args[first] not in subs and len(positional) > 1 and args[positional[1]] in subs:
        second = positional[1]  # `custody CASE add ...` -> `custody add CASE ...`
        args = [*args[:first], args[second], args[first], *args[first + 1 : second], *args[second + 1 :]]
    name = args[first]
    if name in subs:
        return [*args[: first + 1], *normalise(subs[name], args[first + 1 :])]
    return args


__all__ = ["CASE_OPTS", "apply", "normalise", "takes_case_argument", "walk"]
